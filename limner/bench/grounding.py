"""Does the model put objects where it is told? Held-out shapes scenes: each object's phrase and box are given
(grounded generation, regional attention, or the prompt alone), the image is read by the exact parser, and an
object obeys when a parsed object of its shape and colour has its centre inside the box it was given.

    limner bench grounding --model MODEL --scenes 64     # a grounded model, e.g. one trained by training/
    limner bench grounding --model MODEL --grid grid.png # the same prompt with its boxes moved around

Scenes come from seeds disjoint from training (``training/train_grounded.py`` draws its pool from
``[seed, 12]``; these from ``[1000 + seed, 21]``).
"""

from __future__ import annotations

import time

import numpy as np


def heldout_scenes(n: int, seed: int = 0) -> list[dict]:
    """``n`` scenes with 1-4 objects: the caption (every object named with its colour) and each object's region."""
    from limner.tools.shapes.captions import phrase
    from limner.tools.shapes.world import CANVAS, random_scene, render

    rng = np.random.default_rng([1000 + seed, 21])
    out = []
    for _ in range(n):
        _, truth = render(random_scene(rng))
        regions = [{"phrase": phrase(o["shape"], 1, o["color"]), "box": [v / CANVAS for v in o["bbox"]],
                    "shape": o["shape"], "color": o["color"]} for o in truth]
        out.append({"prompt": "a photo of " + " and ".join(r["phrase"] for r in regions), "regions": regions})
    return out


def obeys(parsed: list[dict], region: dict, canvas: int = 64) -> bool:
    """A parsed object of the region's shape and colour has its centre inside the region's box."""
    x0, y0, x1, y1 = (v * canvas for v in region["box"])
    return any(o["shape"] == region["shape"] and o["color"] == region["color"]
               and x0 <= o["centroid"][0] <= x1 and y0 <= o["centroid"][1] <= y1 for o in parsed)


def measure(model: str, mode: str, scenes: list[dict], *, seed: int = 0, steps: int | None = None,
            beta: float | None = None) -> dict:
    """Obedience of ``model`` with ``mode`` ``grounded``, ``regional`` or ``prompt`` over ``scenes``; ``beta``: the
    share of steps that take the boxes (default: the model's ``grounding_beta``)."""
    from contextlib import nullcontext

    from limner.tools.generators import resolve_model
    from limner.tools.generators.diffusers_backend import DiffusersGenerator
    from limner.tools.generators.noise import derive_seed
    from limner.tools.shapes.parser import parse

    spec = resolve_model(model)
    gen = DiffusersGenerator(spec.with_overrides(steps=steps) if steps else spec, device="cpu")
    given = obeyed = exact = 0
    start = time.perf_counter()
    nfe = 0
    for k, scene in enumerate(scenes):
        regions = [{"phrase": r["phrase"], "box": r["box"]} for r in scene["regions"]]
        if mode == "grounded":
            ctx = gen.grounded(regions, beta=spec.grounding_beta if beta is None else beta)
        elif mode == "regional":
            ctx = gen.regional(regions, base_ratio=0.3)
        else:
            ctx = nullcontext()
        with ctx:
            result = gen.generate(scene["prompt"], seeds=[derive_seed(seed, k)])
        nfe += result.nfe
        parsed = parse(result.images[0])
        hits = [obeys(parsed, r) for r in scene["regions"]]
        given += len(hits)
        obeyed += sum(hits)
        exact += all(hits) and len(parsed) == len(scene["regions"])
    return {"model": model, "mode": mode, "scenes": len(scenes), "objects": given,
            **({"beta": spec.grounding_beta if beta is None else beta} if mode == "grounded" else {}),
            "obeyed": round(obeyed / max(1, given), 4), "scenes_exact": round(exact / max(1, len(scenes)), 4),
            "nfe": nfe, "seconds": round(time.perf_counter() - start, 1)}


def grid(model: str, out: str, *, seeds: tuple[int, ...] = (3, 4, 5), beta: float | None = None) -> str:
    """A PNG: one prompt, its two objects' boxes moved around (columns, outlined), the same noise along each row
    (one row per seed); the last column is the prompt alone, for comparison."""
    from contextlib import nullcontext

    from PIL import Image, ImageDraw

    from limner.tools.generators import resolve_model
    from limner.tools.generators.diffusers_backend import DiffusersGenerator

    spec = resolve_model(model)
    gen = DiffusersGenerator(spec, device="cpu")
    prompt = "a photo of a red circle and a blue square"
    placements = [([0.05, 0.3, 0.4, 0.65], [0.6, 0.3, 0.95, 0.65]), ([0.6, 0.3, 0.95, 0.65], [0.05, 0.3, 0.4, 0.65]),
                  ([0.05, 0.05, 0.4, 0.4], [0.6, 0.6, 0.95, 0.95]), ([0.3, 0.6, 0.65, 0.95], [0.3, 0.05, 0.65, 0.4]),
                  ([0.6, 0.05, 0.95, 0.4], [0.05, 0.6, 0.4, 0.95]), None]
    scale, gap = 3, 4
    side = spec.width * scale
    sheet = Image.new("RGB", (len(placements) * (side + gap) - gap, len(seeds) * (side + gap) - gap), (40, 40, 40))
    for col, placement in enumerate(placements):
        regions = [] if placement is None else [{"phrase": "a red circle", "box": placement[0]},
                                                {"phrase": "a blue square", "box": placement[1]}]
        with gen.grounded(regions, beta=spec.grounding_beta if beta is None else beta) if regions else nullcontext():
            images = gen.generate(prompt, seeds=list(seeds)).images
        for row, image in enumerate(images):
            tile = image.resize((side, side), Image.NEAREST)
            draw = ImageDraw.Draw(tile)
            for r, colour in zip(regions, ((200, 0, 0), (0, 0, 200))):
                x0, y0, x1, y1 = (v * side for v in r["box"])
                draw.rectangle([x0, y0, x1, y1], outline=colour, width=1)
            sheet.paste(tile, (col * (side + gap), row * (side + gap)))
    sheet.save(out)
    return out
