"""How well the shapes-world parser (ShapesEval's scorer) reads degraded renders, against the render's truth.

The parser is exact on clean renders; the model's images are not clean. Their common defects are made here on
rendered scenes, whose truth is known: a one-pixel fringe along an object's side (the diffusion model's
stray rows), a slight rotation, a blur, and all three together. Each object of the truth is matched to the
parsed object of its colour nearest its centre; the table gives the share read with the right shape, and
the objects missed or invented.

    python -m limner.bench.parser_robustness --scenes 400 --seed 0

Nothing here uses a learned model: the truth is the scene the image was drawn from.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

DEGRADATIONS = ("clean", "fringe", "rotate", "blur", "all")


def _fringe(mask: np.ndarray, rng) -> np.ndarray:
    """One or two sides of the mask get a partial one-pixel row or column outside them."""
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max(), xs.min(), xs.max()
    out = mask.copy()
    h, w = mask.shape
    for side in rng.choice(4, size=int(rng.integers(1, 3)), replace=False):
        length = (x1 - x0 + 1) if side < 2 else (y1 - y0 + 1)
        n = max(1, int(length * rng.uniform(0.05, 0.3)))
        start = int(rng.integers(0, max(1, length - n + 1)))
        for k in range(start, start + n):
            if side == 0 and y0 > 0:
                out[y0 - 1, x0 + k] = True
            elif side == 1 and y1 + 1 < h:
                out[y1 + 1, x0 + k] = True
            elif side == 2 and x0 > 0:
                out[y0 + k, x0 - 1] = True
            elif side == 3 and x1 + 1 < w:
                out[y0 + k, x1 + 1] = True
    return out


def degraded(scene, kind: str, rng) -> tuple[np.ndarray, list[dict]]:
    """The scene's image with one kind of defect (``DEGRADATIONS``) and its truth (shape, colour, centre)."""
    from PIL import Image, ImageFilter

    from limner.tools.shapes.world import BACKGROUND, CANVAS, PALETTE, shape_mask

    image = np.full((CANVAS, CANVAS, 3), BACKGROUND, dtype=np.uint8)
    truth = []
    for obj in scene.objects:
        angle = rng.uniform(-8, 8) if kind in ("rotate", "all") else 0.0
        mask = shape_mask(obj, CANVAS, angle)
        if kind in ("fringe", "all"):
            mask = _fringe(mask, rng)
        image[mask] = PALETTE[obj.color]
        truth.append({"shape": obj.shape, "color": obj.color,
                      "centroid": [obj.x + obj.size / 2, obj.y + obj.size / 2]})
    if kind in ("blur", "all"):
        image = np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(0.6)))
    return image, truth


def score(parsed: list[dict], truth: list[dict]) -> tuple[int, int, int]:
    """(objects read with the right shape, objects missed, objects invented)."""
    left = list(parsed)
    right = missed = 0
    for t in truth:
        same = [p for p in left if p["color"] == t["color"]]
        if not same:
            missed += 1
            continue
        p = min(same, key=lambda p: (p["centroid"][0] - t["centroid"][0]) ** 2 + (p["centroid"][1] - t["centroid"][1]) ** 2)
        left.remove(p)
        right += p["shape"] == t["shape"]
    return right, missed, len(left)


def measure(scenes: int = 400, seed: int = 0, parse=None) -> dict:
    """Per degradation: objects, the share with the right shape, missed and invented objects."""
    from limner.tools.shapes.parser import parse as shapes_parse
    from limner.tools.shapes.world import random_scene

    parse = parse or shapes_parse
    out = {}
    for k, kind in enumerate(DEGRADATIONS):
        rng = np.random.default_rng([seed, k])
        objects = right = missed = invented = 0
        for _ in range(scenes):
            image, truth = degraded(random_scene(rng), kind, rng)
            r, m, i = score(parse(image), truth)
            objects, right, missed, invented = objects + len(truth), right + r, missed + m, invented + i
        out[kind] = {"objects": objects, "shape_right": round(right / objects, 4), "missed": missed,
                     "invented": invented}
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    table = measure(args.scenes, args.seed)
    if args.json:
        print(json.dumps(table, indent=2))
        return
    print(f"parser on degraded renders: {args.scenes} scenes per row, seed {args.seed}")
    print(f"{'defect':8} {'objects':>8} {'shape right':>12} {'missed':>7} {'invented':>9}")
    for kind, row in table.items():
        print(f"{kind:8} {row['objects']:8d} {row['shape_right']:12.4f} {row['missed']:7d} {row['invented']:9d}")


if __name__ == "__main__":
    main()
