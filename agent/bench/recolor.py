"""How often a recolouring repair works, by inpainting strength: rendered shapes scenes, the first object's box
(grown by 3 px) repainted as "a <new colour> <shape>", the result read by the exact parser (an upper bound on
what a detector would say). Chooses ``Policy.recolor_strength``.

    python -m limner.agent.bench.recolor --scenes 12 --seeds 4
"""

from __future__ import annotations


def measure(model: str = "shapes-tiny", scenes: int = 12, seeds: int = 4,
            strengths: tuple[float, ...] = (1.0, 0.85, 0.7, 0.55), seed: int = 5) -> dict[float, float]:
    import numpy as np

    from limner.tools.editing import box_mask_image, inpaint
    from limner.tools.generators import resolve_model
    from limner.tools.generators.diffusers_backend import DiffusersGenerator
    from limner.tools.shapes.parser import parse
    from limner.tools.shapes.world import CANVAS, random_scene, render_pil

    gen = DiffusersGenerator(resolve_model(model), device="cpu")
    rng = np.random.default_rng(seed)
    hits = {s: 0 for s in strengths}
    for k in range(scenes):
        image = render_pil(random_scene(rng, 2))
        obj = parse(image)[0]
        colour = "green" if obj["color"] != "green" else "red"
        x0, y0, x1, y1 = obj["bbox"]
        box = [max(0, x0 - 3) / CANVAS, max(0, y0 - 3) / CANVAS, min(CANVAS, x1 + 3) / CANVAS,
               min(CANVAS, y1 + 3) / CANVAS]
        for s in strengths:
            out = inpaint(gen, image, box_mask_image(image.size, box), f"a {colour} {obj['shape']}",
                          [k * 10 + j for j in range(seeds)], strength=s)
            hits[s] += sum(any(p["shape"] == obj["shape"] and p["color"] == colour for p in parse(im))
                           for im in out.images)
    return {s: hits[s] / (scenes * seeds) for s in strengths}


def main(argv=None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="shapes-tiny")
    ap.add_argument("--scenes", type=int, default=12)
    ap.add_argument("--seeds", type=int, default=4)
    args = ap.parse_args(argv)
    for s, rate in measure(args.model, args.scenes, args.seeds).items():
        print(f"strength {s:.2f}: recoloured {rate:.3f} ({args.scenes * args.seeds} repairs)")


if __name__ == "__main__":
    main()
