"""The shapes world: a 64x64 white canvas with 1-4 flat shapes of six exact colours, never overlapping.

``render(scene)`` draws a scene and returns the image with the ground-truth objects,
whose boxes are the exact extent of the drawn pixels (what any parser can see).
"""

from __future__ import annotations

import copy

from dataclasses import asdict, dataclass

import numpy as np

CANVAS = 64
BACKGROUND = (255, 255, 255)
PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 160, 60),
    "blue": (30, 70, 220),
    "yellow": (240, 200, 20),
    "purple": (140, 50, 180),
    "black": (30, 30, 30),
}
COLORS = tuple(PALETTE)
SHAPES = ("circle", "square", "triangle")
MIN_SIZE, MAX_SIZE = 12, 24
GAP = 2  # pixels kept free between objects' boxes, so objects never touch


@dataclass(frozen=True)
class Obj:
    shape: str
    color: str
    x: int  # left of the object's square footprint
    y: int  # top
    size: int  # footprint side in pixels

    @property
    def footprint(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.x + self.size, self.y + self.size)


@dataclass
class Scene:
    objects: list[Obj]

    def to_dict(self) -> dict:
        return {"objects": [asdict(o) for o in self.objects]}

    @classmethod
    def from_dict(cls, data: dict) -> "Scene":
        return cls([Obj(**o) for o in data["objects"]])


def shape_mask(obj: Obj, canvas: int = CANVAS, angle: float = 0.0) -> np.ndarray:
    """Boolean mask of the pixels whose centres fall inside the shape, turned by ``angle`` degrees about its
    centre (the renderer draws every shape upright; the parser's robustness bench turns them)."""
    ys, xs = np.mgrid[0:canvas, 0:canvas] + 0.5
    s = obj.size
    cx, cy = obj.x + s / 2, obj.y + s / 2
    if angle:  # each pixel turned back into the upright shape's frame
        t = np.deg2rad(angle)
        xs, ys = (np.cos(t) * (xs - cx) + np.sin(t) * (ys - cy) + cx,
                  -np.sin(t) * (xs - cx) + np.cos(t) * (ys - cy) + cy)
    if obj.shape == "square":
        return (xs >= obj.x) & (xs < obj.x + s) & (ys >= obj.y) & (ys < obj.y + s)
    if obj.shape == "circle":
        return (xs - cx) ** 2 + (ys - cy) ** 2 <= (s / 2) ** 2
    if obj.shape == "triangle":  # upright: apex at the top centre, base along the bottom
        depth = ys - obj.y
        return (depth >= 0) & (depth <= s) & (np.abs(xs - cx) <= depth / 2 + 0.5)
    raise ValueError(f"unknown shape {obj.shape!r}")


def _boxes_apart(a: tuple, b: tuple, gap: int = GAP) -> bool:
    return a[2] + gap <= b[0] or b[2] + gap <= a[0] or a[3] + gap <= b[1] or b[3] + gap <= a[1]


def place(rng: np.random.Generator, shapes_colors: list[tuple[str, str]], tries: int = 200) -> Scene | None:
    """Random non-overlapping placement of the given (shape, colour) pairs, or None if it does not fit."""
    for _ in range(tries):
        objs: list[Obj] = []
        for shape, color in shapes_colors:
            for _ in range(50):
                size = int(rng.integers(MIN_SIZE, MAX_SIZE + 1))
                x = int(rng.integers(0, CANVAS - size + 1))
                y = int(rng.integers(0, CANVAS - size + 1))
                cand = Obj(shape, color, x, y, size)
                if all(_boxes_apart(cand.footprint, o.footprint) for o in objs):
                    objs.append(cand)
                    break
            else:
                break
        if len(objs) == len(shapes_colors):
            return Scene(objs)
    return None


def random_scene(rng: np.random.Generator, n_objects: int | None = None) -> Scene:
    """1-4 objects of random shapes and colours (fewer objects when four do not fit)."""
    n = n_objects or int(rng.integers(1, 5))
    while True:
        pairs = [(SHAPES[rng.integers(len(SHAPES))], COLORS[rng.integers(len(COLORS))]) for _ in range(n)]
        scene = place(rng, pairs)
        if scene is not None:
            return scene


def render(scene: Scene, canvas: int = CANVAS) -> tuple[np.ndarray, list[dict]]:
    """The image (H, W, 3 uint8) and the ground truth: shape, colour, pixel box [x0, y0, x1, y1), centroid."""
    image = np.full((canvas, canvas, 3), BACKGROUND, dtype=np.uint8)
    truth = []
    for obj in scene.objects:
        mask = shape_mask(obj, canvas)
        image[mask] = PALETTE[obj.color]
        ys, xs = np.nonzero(mask)
        truth.append({
            "shape": obj.shape, "color": obj.color,
            "bbox": [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1],
            "centroid": [float(xs.mean() + 0.5), float(ys.mean() + 0.5)], "area": int(mask.sum()),
        })
    return image, truth


def render_pil(scene: Scene):
    from PIL import Image

    return Image.fromarray(render(scene)[0])


def perturb(truth: list[dict], rng) -> list[dict]:
    """The same scene with one thing changed: a colour, a shape, an object more or less, or mirrored."""
    t = copy.deepcopy(truth)
    kind = rng.integers(4)
    k = rng.integers(len(t))
    if kind == 0:
        t[k]["color"] = [c for c in COLORS if c != t[k]["color"]][rng.integers(len(COLORS) - 1)]
    elif kind == 1:
        t[k]["shape"] = [s for s in SHAPES if s != t[k]["shape"]][rng.integers(len(SHAPES) - 1)]
    elif kind == 2 and len(t) > 1:
        del t[k]
    elif kind == 2:
        t.append(copy.deepcopy(t[0]))
    else:
        for o in t:  # mirror left-right: relations flip
            x0, y0, x1, y1 = o["bbox"]
            o["bbox"] = [64 - x1, y0, 64 - x0, y1]
    return t
