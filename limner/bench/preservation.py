"""Calibrates and measures the preservation check (``limner.tools.verifiers.preservation``).

Pairs of (source, edited, region): the edit may change the region; what happens outside it is either
*kept* (imperceptible: the exact composite an inpainting returns, JPEG re-encoding at quality 80 and 90,
Gaussian noise of sigma 2 and 3, a 0.6 px blur, a brightness shift of 3 levels: what a VAE round trip or an
editor that does not composite leaves) or *broken* (an object outside the region recoloured, removed, moved
or added; on photographs, a patch of 4% of the image replaced by another part of the image, recoloured or
painted over with a flat disc). The check must pass every kept pair and fail every broken one.

The sets are fixed before tuning. Development: shapes scenes from seeds 0-59 and the photographs astronaut,
chelsea and coffee; the threshold is chosen there as the midpoint between the worst kept and the mildest broken
pair. Test (held out, measured once with that threshold): shapes seeds 1000-1059 and the photographs rocket,
camera and hubble_deep_field. Photographs come from scikit-image (``pip install scikit-image``).

    limner bench preservation
"""

from __future__ import annotations

import io

import numpy as np

DEV = {"seeds": range(0, 60), "photos": ("astronaut", "chelsea", "coffee")}
TEST = {"seeds": range(1000, 1060), "photos": ("rocket", "camera", "hubble_deep_field")}
KEPT = ("exact", "jpeg90", "jpeg80", "noise2", "noise3", "blur0.6", "bright3")
BROKEN_SHAPES = ("recolour", "remove", "move", "add")
BROKEN_PHOTO = ("patch", "invert_patch", "paint")


def _kept(image, kind: str, rng):
    from PIL import Image, ImageFilter

    if kind == "exact":
        return image
    if kind.startswith("jpeg"):
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=int(kind[4:]))
        return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    a = np.asarray(image, dtype=np.float32)
    if kind.startswith("noise"):
        a = a + rng.normal(0, float(kind[5:]), a.shape)
    elif kind.startswith("blur"):
        return image.filter(ImageFilter.GaussianBlur(float(kind[4:])))
    elif kind.startswith("bright"):
        a = a + float(kind[6:])
    return Image.fromarray(np.clip(a, 0, 255).round().astype(np.uint8))


def _region(size, box_px, pad: int):
    from PIL import Image, ImageDraw

    mask = Image.new("L", size, 0)
    x0, y0, x1, y1 = box_px
    ImageDraw.Draw(mask).rectangle([max(0, x0 - pad), max(0, y0 - pad), min(size[0], x1 + pad) - 1,
                                    min(size[1], y1 + pad) - 1], fill=255)
    return mask


def shapes_pairs(seeds) -> list[dict]:
    """Per seed: a 3-object scene, the region around its first object, the edit inside it (the object
    recoloured), then every kept and broken change outside it."""
    from limner.tools.shapes.world import COLORS, SHAPES, Obj, Scene, random_scene, render_pil

    out = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        scene = random_scene(rng, 3)
        edited_obj = scene.objects[0]
        new = Obj(edited_obj.shape, next(c for c in COLORS if c != edited_obj.color), edited_obj.x, edited_obj.y,
                  edited_obj.size)
        source = render_pil(scene)
        inside_edit = Scene([new, *scene.objects[1:]])
        x0, y0, x1, y1 = edited_obj.footprint
        region = _region(source.size, (x0, y0, x1, y1), 3)
        base = render_pil(inside_edit)
        for kind in KEPT:
            out.append({"set": "shapes", "seed": seed, "kind": kind, "expect": True, "source": source,
                        "edited": _kept(base, kind, rng), "region": region})
        other = scene.objects[1]
        recol = Obj(other.shape, next(c for c in COLORS if c != other.color), other.x, other.y, other.size)
        changes = {"recolour": Scene([new, recol, *scene.objects[2:]]),
                   "remove": Scene([new, *scene.objects[2:]])}
        keep_out = (x0 - 3 - 8, y0 - 3 - 8, x1 + 3 + 8, y1 + 3 + 8)  # the region and its band, with room
        spot = _free_spot(rng, other.size, [keep_out, *[o.footprint for o in scene.objects[2:]]])
        if spot is not None:  # the second object moved elsewhere outside the region
            changes["move"] = Scene([new, Obj(other.shape, other.color, *spot, other.size), *scene.objects[2:]])
        size = 14
        spot = _free_spot(rng, size, [keep_out, *[o.footprint for o in scene.objects[1:]]])
        if spot is not None:
            changes["add"] = Scene([new, *scene.objects[1:], Obj(SHAPES[seed % 3], COLORS[seed % 6], *spot, size)])
        for kind, changed in changes.items():
            out.append({"set": "shapes", "seed": seed, "kind": kind, "expect": False, "source": source,
                        "edited": render_pil(changed), "region": region})
    return out


def _free_spot(rng, size: int, taken: list[tuple]) -> tuple[int, int] | None:
    """A place for a ``size`` object apart from every box in ``taken`` (None when none is found)."""
    from limner.tools.shapes.world import CANVAS, _boxes_apart

    for _ in range(400):
        x, y = int(rng.integers(0, CANVAS - size + 1)), int(rng.integers(0, CANVAS - size + 1))
        if all(_boxes_apart((x, y, x + size, y + size), box) for box in taken):
            return x, y
    return None


def _photo(name: str):
    from PIL import Image
    from skimage import data

    a = getattr(data, name)()
    if a.ndim == 2:
        a = np.stack([a] * 3, axis=2)
    image = Image.fromarray(a[..., :3].astype(np.uint8))
    scale = 512 / max(image.size)  # the size a diffusion model edits at
    return image.resize((round(image.size[0] * scale) // 8 * 8, round(image.size[1] * scale) // 8 * 8))


def photo_pairs(names, per_photo: int = 8, seed: int = 0) -> list[dict]:
    from PIL import Image

    out = []
    for name in names:
        rng = np.random.default_rng([seed, len(name)])
        source = _photo(name)
        w, h = source.size
        a = np.asarray(source)
        for k in range(per_photo):
            rw, rh = int(w * rng.uniform(0.25, 0.45)), int(h * rng.uniform(0.25, 0.45))
            rx, ry = int(rng.integers(0, w - rw)), int(rng.integers(0, h - rh))
            region = _region(source.size, (rx, ry, rx + rw, ry + rh), 0)
            inside = np.asarray(region) > 127
            edited = a.copy()
            edited[inside] = 255 - edited[inside]  # whatever the edit painted inside
            base = Image.fromarray(edited)
            for kind in KEPT:
                out.append({"set": "photo", "seed": f"{name}/{k}", "kind": kind, "expect": True, "source": source,
                            "edited": _kept(base, kind, rng), "region": region})
            side = int((0.04 * w * h) ** 0.5)  # a patch of 4% of the image, wholly outside the region and band
            grown = _region(source.size, (rx, ry, rx + rw, ry + rh), 12)
            for _ in range(200):
                px, py = int(rng.integers(0, w - side)), int(rng.integers(0, h - side))
                if not (np.asarray(grown)[py:py + side, px:px + side] > 127).any():
                    break
            else:
                continue
            for kind in BROKEN_PHOTO:
                b = edited.copy()
                if kind == "patch":
                    qx, qy = (px + w // 2) % (w - side), (py + h // 2) % (h - side)
                    b[py:py + side, px:px + side] = a[qy:qy + side, qx:qx + side]
                elif kind == "invert_patch":
                    b[py:py + side, px:px + side] = 255 - b[py:py + side, px:px + side]
                else:  # an object painted there: a flat disc of a colour far from what lies under it
                    yy, xx = np.mgrid[0:side, 0:side]
                    disc = (yy - side / 2) ** 2 + (xx - side / 2) ** 2 <= (side / 2) ** 2
                    under = b[py:py + side, px:px + side][disc].mean(axis=0)
                    b[py:py + side, px:px + side][disc] = np.where(under > 127, 20, 235).astype(np.uint8)
                out.append({"set": "photo", "seed": f"{name}/{k}", "kind": kind, "expect": False, "source": source,
                            "edited": Image.fromarray(b), "region": region})
    return out


def measure(pairs: list[dict], threshold: float | None = None) -> dict:
    """Every pair's worst window; with ``threshold``, the share right and the false passes (broken, passed)."""
    from limner.tools.verifiers.preservation import MAX_WINDOW_DIFF, preservation

    threshold = MAX_WINDOW_DIFF if threshold is None else threshold
    rows = []
    for p in pairs:
        r = preservation(p["source"], p["edited"], p["region"], threshold=threshold)
        rows.append({"set": p["set"], "kind": p["kind"], "expect": p["expect"], "worst": r.worst_window,
                     "passed": r.passed})
    return {"threshold": threshold, **tally(rows, digits=3)}


def tally(rows: list[dict], digits: int) -> dict:
    """What a calibration reports of its pairs' ``rows`` (``set``, ``kind``, ``expect``, ``worst``, ``passed``):
    the counts, the worst kept and mildest broken values, the share right, false passes and failures, and each
    set and kind's."""
    kept = [r["worst"] for r in rows if r["expect"]]
    broken = [r["worst"] for r in rows if not r["expect"]]
    by_kind: dict[str, dict] = {}
    for r in rows:
        k = by_kind.setdefault(f"{r['set']}:{r['kind']}", {"n": 0, "right": 0, "max": 0.0, "min": 1e9})
        k["n"] += 1
        k["right"] += r["passed"] == r["expect"]
        k["max"], k["min"] = round(max(k["max"], r["worst"]), digits), round(min(k["min"], r["worst"]), digits)
    return {"pairs": len(rows), "kept": len(kept), "broken": len(broken),
            "worst_kept": round(max(kept), digits), "mildest_broken": round(min(broken), digits),
            "accuracy": round(sum(r["passed"] == r["expect"] for r in rows) / len(rows), 4),
            "false_passes": sum(r["passed"] and not r["expect"] for r in rows),
            "false_failures": sum(not r["passed"] and r["expect"] for r in rows), "by_kind": by_kind}


def calibrate() -> dict:
    """The threshold from the development set, then both sets measured with it."""
    dev = shapes_pairs(DEV["seeds"]) + photo_pairs(DEV["photos"])
    first = measure(dev)
    chosen = round((first["worst_kept"] + first["mildest_broken"]) / 2, 1)
    test = shapes_pairs(TEST["seeds"]) + photo_pairs(TEST["photos"], seed=1)
    return {"chosen_threshold": chosen, "dev": measure(dev, chosen), "test": measure(test, chosen)}
