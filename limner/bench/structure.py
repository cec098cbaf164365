"""Calibrates and measures the restyle's structure check (``limner.tools.verifiers.structure``).

Pairs of (source, restyled): the restyle either *kept* the composition (a change of look only: every colour
mapped to another, greyscale, posterised to 4 levels a channel, contrast at 60%, a 1.2 px blur, a painterly
3x3 median filter, noise of sigma 6, JPEG at quality 60, a pencil-sketch look (grey, its outlines darkened), a
shift by one pixel, outlines bent by a smooth random displacement of up to 1/64 of the shorter side) or *broke* it (shapes scenes: an object added, removed, moved, or changed into another
shape where it was; photographs: a patch of 4% of the image replaced by another part of it, or a flat disc
painted there). The check must pass every kept pair and fail every broken one.

The sets are fixed before tuning. Development: shapes scenes from seeds 0-59 and the photographs astronaut,
chelsea and coffee. Test (held out, measured once with the chosen threshold): shapes seeds 1000-1059 and the
photographs rocket, camera and hubble_deep_field. The rule: the worst kept development pair of the shapes scenes
(rounded up to 0.01), so that no restyle of the shapes world that kept its composition fails. The first rule
tried on the development pairs (the value that minimises twice the false passes plus the false failures) chose
0.0045, which fails a restyle that bends an outline by one pixel: it was dropped before the test set was
measured. The photographs are measured and reported, not used: on them the check fails looks that keep the
composition (posterised, sketched), which is why only models whose alias says ``restyle_structure`` (the
embedded shapes-tiny) get it. No restyle by a real diffusion model is in either set (none can run here).

    limner bench structure
"""

from __future__ import annotations

import io

import numpy as np

from limner.bench.preservation import DEV, TEST, _free_spot, _photo, tally

KEPT = ("palette", "grey", "posterise", "contrast", "blur", "median", "noise", "jpeg", "sketch", "shift", "wobble")
BROKEN_SHAPES = ("add", "remove", "move", "reshape")
BROKEN_PHOTO = ("patch", "disc")


def restyled(image, kind: str, rng):
    """``image`` (PIL RGB) with its look changed by ``kind``, its composition kept."""
    from PIL import Image, ImageFilter, ImageOps

    a = np.asarray(image, dtype=np.float32)
    if kind == "palette":  # every colour to another: the channels rotated and one inverted
        b = a[..., [1, 2, 0]].copy()
        b[..., 0] = 255 - b[..., 0]
        return Image.fromarray(b.astype(np.uint8))
    if kind == "grey":
        return ImageOps.grayscale(image).convert("RGB")
    if kind == "posterise":
        return ImageOps.posterize(image, 2)
    if kind == "contrast":
        return Image.fromarray(np.clip(128 + 0.6 * (a - 128), 0, 255).astype(np.uint8))
    if kind == "blur":
        return image.filter(ImageFilter.GaussianBlur(1.2))
    if kind == "median":
        return image.filter(ImageFilter.MedianFilter(3))
    if kind == "noise":
        return Image.fromarray(np.clip(a + rng.normal(0, 6, a.shape), 0, 255).round().astype(np.uint8))
    if kind == "jpeg":
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=60)
        return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    if kind == "sketch":  # grey, lighter, its outlines drawn darker
        grey = ImageOps.grayscale(image)
        lines = np.asarray(grey.filter(ImageFilter.FIND_EDGES), dtype=np.float32)
        lines[[0, -1], :], lines[:, [0, -1]] = 0, 0  # the filter's edge at the border is no outline
        g = 255 - 0.5 * (255 - np.asarray(grey, dtype=np.float32)) - 1.5 * lines
        return Image.fromarray(np.clip(g, 0, 255).astype(np.uint8)).convert("RGB")
    if kind == "wobble":  # outlines bent by a smooth random displacement of up to 1/64 of the shorter side
        return _wobble(image, rng, max(1.0, min(image.size) / 64))
    if kind == "shift":
        b = np.asarray(image)
        return Image.fromarray(np.concatenate([b[:, :1], b[:, :-1]], axis=1))
    raise ValueError(kind)


def _wobble(image, rng, amount: float):
    """``image`` resampled through a smooth random displacement field (at most ``amount`` pixels)."""
    from PIL import Image

    w, h = image.size
    coarse = rng.uniform(-1, 1, (2, 4, 4)).astype(np.float32)
    field = [np.asarray(Image.fromarray(c).resize((w, h), Image.BICUBIC)) * amount for c in coarse]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    sx = np.clip(np.rint(xx + field[0]), 0, w - 1).astype(int)
    sy = np.clip(np.rint(yy + field[1]), 0, h - 1).astype(int)
    return Image.fromarray(np.asarray(image)[sy, sx])


def shapes_pairs(seeds) -> list[dict]:
    """Per seed: a 3-object scene, each kept restyle of it, and each broken one (the change, then a restyle
    drawn from ``KEPT`` on top, as a restyle that also broke the composition would look)."""
    from limner.tools.shapes.world import (
        COLORS,
        SHAPES,
        Obj,
        Scene,
        random_scene,
        render_pil,
    )

    out = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        scene = random_scene(rng, 3)
        source = render_pil(scene)
        for kind in KEPT:
            out.append({"set": "shapes", "seed": seed, "kind": kind, "expect": True, "source": source,
                        "edited": restyled(source, kind, rng)})
        first, rest = scene.objects[0], scene.objects[1:]
        other = next(s for s in SHAPES if s != first.shape)
        changes = {"remove": Scene(list(rest)),
                   "reshape": Scene([Obj(other, first.color, first.x, first.y, first.size), *rest])}
        spot = _free_spot(rng, first.size, [o.footprint for o in rest])
        if spot is not None:
            changes["move"] = Scene([Obj(first.shape, first.color, *spot, first.size), *rest])
        spot = _free_spot(rng, 12, [o.footprint for o in scene.objects])
        if spot is not None:
            changes["add"] = Scene([*scene.objects, Obj(SHAPES[seed % 3], COLORS[seed % 6], *spot, 12)])
        for kind, changed in changes.items():
            look = KEPT[int(rng.integers(len(KEPT)))]
            out.append({"set": "shapes", "seed": seed, "kind": f"{kind}+{look}", "expect": False,
                        "source": source, "edited": restyled(render_pil(changed), look, rng)})
    return out


def photo_pairs(names, per_photo: int = 6, seed: int = 0) -> list[dict]:
    from PIL import Image

    out = []
    for name in names:
        rng = np.random.default_rng([seed, len(name)])
        source = _photo(name)
        for kind in KEPT:
            out.append({"set": "photo", "seed": name, "kind": kind, "expect": True, "source": source,
                        "edited": restyled(source, kind, rng)})
        a = np.asarray(source)
        w, h = source.size
        side = int((0.04 * w * h) ** 0.5)
        for k in range(per_photo):
            px, py = int(rng.integers(0, w - side)), int(rng.integers(0, h - side))
            for kind in BROKEN_PHOTO:
                b = a.copy()
                if kind == "patch":
                    qx, qy = (px + w // 2) % (w - side), (py + h // 2) % (h - side)
                    b[py:py + side, px:px + side] = a[qy:qy + side, qx:qx + side]
                else:
                    yy, xx = np.mgrid[0:side, 0:side]
                    disc = (yy - side / 2) ** 2 + (xx - side / 2) ** 2 <= (side / 2) ** 2
                    under = b[py:py + side, px:px + side][disc].mean(axis=0)
                    b[py:py + side, px:px + side][disc] = np.where(under > 127, 20, 235).astype(np.uint8)
                look = KEPT[int(rng.integers(len(KEPT)))]
                out.append({"set": "photo", "seed": f"{name}/{k}", "kind": f"{kind}+{look}", "expect": False,
                            "source": source, "edited": restyled(Image.fromarray(b), look, rng)})
    return out


def measure(pairs: list[dict], threshold: float | None = None) -> dict:
    """Every pair's worst window; the share right with ``threshold`` and the false passes (broken, passed)."""
    from limner.tools.verifiers.structure import MAX_UNMATCHED, structure

    threshold = MAX_UNMATCHED if threshold is None else threshold
    rows = []
    for p in pairs:
        r = structure(p["source"], p["edited"], threshold=threshold)
        rows.append({"set": p["set"], "kind": p["kind"].split("+")[0], "expect": p["expect"],
                     "worst": r.worst_window, "passed": r.passed})
    kept_shapes = [r["worst"] for r in rows if r["expect"] and r["set"] == "shapes"] or [0.0]
    return {"threshold": threshold, **tally(rows, digits=4), "worst_kept_shapes": round(max(kept_shapes), 4),
            "by_set": {name: {"pairs": sum(r["set"] == name for r in rows),
                              "broken": sum(r["set"] == name and not r["expect"] for r in rows),
                              "right": sum(r["set"] == name and r["passed"] == r["expect"] for r in rows),
                              "false_passes": sum(r["set"] == name and r["passed"] and not r["expect"] for r in rows),
                              "false_failures": sum(r["set"] == name and not r["passed"] and r["expect"] for r in rows)}
                       for name in dict.fromkeys(r["set"] for r in rows)}}


def choose(first: dict) -> float:
    """The rule (module docstring): the worst kept shapes pair on the development set, rounded up."""
    import math

    return math.ceil(first["worst_kept_shapes"] * 100) / 100


def calibrate() -> dict:
    """The threshold from the development set, then both sets measured with it."""
    dev = shapes_pairs(DEV["seeds"]) + photo_pairs(DEV["photos"])
    first = measure(dev)
    chosen = choose(first)
    test = shapes_pairs(TEST["seeds"]) + photo_pairs(TEST["photos"], seed=1)
    return {"chosen_threshold": chosen, "dev": measure(dev, chosen), "test": measure(test, chosen)}
