"""How often a repair works: rendered shapes scenes with one object missing (insert it into its box) or in the
wrong colour (repaint its box, grown by 3 px, as "a <new colour> <shape>"), inpainted with and without telling
a grounded model the box (GLIGEN's inputs) and, for recolourings, at several strengths; the results read by
the exact parser (an upper bound on what a detector would say). Chooses ``Policy.recolor_strength`` and
whether repairs on grounded models pass the box.

    python -m limner.bench.repairs --scenes 12 --seeds 4
"""

from __future__ import annotations


def _setup(model: str):
    from limner.tools.generators import resolve_model
    from limner.tools.generators.diffusers_backend import DiffusersGenerator

    return DiffusersGenerator(resolve_model(model), device="cpu")


def _box(obj: dict, grow: int = 3) -> list[float]:
    from limner.tools.shapes.world import CANVAS

    x0, y0, x1, y1 = obj["bbox"]
    return [max(0, x0 - grow) / CANVAS, max(0, y0 - grow) / CANVAS, min(CANVAS, x1 + grow) / CANVAS,
            min(CANVAS, y1 + grow) / CANVAS]


def measure_recolor(gen, scenes: int = 12, seeds: int = 4, strengths: tuple[float, ...] = (1.0, 0.85, 0.7, 0.55),
                    grounded: bool = False, seed: int = 5) -> dict[float, float]:
    """Share of recolourings right (the object's shape in the new colour) per strength."""
    import numpy as np

    from limner.tools.editing import box_mask_image, inpaint
    from limner.tools.shapes.parser import parse
    from limner.tools.shapes.world import random_scene, render_pil

    rng = np.random.default_rng(seed)
    hits = {s: 0 for s in strengths}
    for k in range(scenes):
        image = render_pil(random_scene(rng, 2))
        obj = parse(image)[0]
        colour = "green" if obj["color"] != "green" else "red"
        box, phrase = _box(obj), f"a {colour} {obj['shape']}"
        grounding = [{"phrase": phrase, "box": box}] if grounded else None
        for s in strengths:
            out = inpaint(gen, image, box_mask_image(image.size, box), phrase, [k * 10 + j for j in range(seeds)],
                          strength=s, grounding=grounding)
            hits[s] += sum(any(p["shape"] == obj["shape"] and p["color"] == colour for p in parse(im))
                           for im in out.images)
    return {s: hits[s] / (scenes * seeds) for s in strengths}


def measure_insert(gen, scenes: int = 12, seeds: int = 4, grounded: bool = False, seed: int = 6) -> float:
    """Share of inserted objects found (its shape and colour, centre in the box) with the rest kept."""
    import numpy as np

    from limner.bench.grounding import obeys
    from limner.tools.editing import box_mask_image, inpaint
    from limner.tools.shapes.parser import parse
    from limner.tools.shapes.world import Scene, random_scene, render, render_pil

    rng = np.random.default_rng(seed)
    hits = 0
    for k in range(scenes):
        scene = random_scene(rng, 2)
        _, full = render(scene)
        missing = full[-1]  # the scene's last object, left out of the image
        image = render_pil(Scene(scene.objects[:-1]))
        box, phrase = _box(missing), f"a {missing['color']} {missing['shape']}"
        grounding = [{"phrase": phrase, "box": box}] if grounded else None
        out = inpaint(gen, image, box_mask_image(image.size, box), phrase, [k * 10 + j for j in range(seeds)],
                      grounding=grounding)
        region = {"shape": missing["shape"], "color": missing["color"], "box": box}
        for im in out.images:
            found = parse(im)
            hits += obeys(found, region) and len(found) == len(full)
    return hits / (scenes * seeds)


def main(argv=None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="shapes-tiny")
    ap.add_argument("--scenes", type=int, default=12)
    ap.add_argument("--seeds", type=int, default=4)
    args = ap.parse_args(argv)
    gen = _setup(args.model)
    modes = [False] + ([True] if not gen.spec.caps.lacks("grounded") else [])
    n = args.scenes * args.seeds
    for grounded in modes:
        how = "grounded on the box" if grounded else "inpainting alone"
        rate = measure_insert(gen, args.scenes, args.seeds, grounded=grounded)
        print(f"insert a missing object, {how}: {rate:.3f} of {n}")
        for s, r in measure_recolor(gen, args.scenes, args.seeds, grounded=grounded).items():
            print(f"recolour at strength {s:.2f}, {how}: {r:.3f} of {n}")


if __name__ == "__main__":
    main()
