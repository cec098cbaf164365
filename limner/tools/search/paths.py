"""``paths``: search over denoising paths (Ma et al. 2025, search over paths).

Start ``width`` paths from fresh noise and denoise them to a checkpoint step. There, score each path's
predicted clean image, keep the best ``ceil(width / branches)``, and re-noise each kept path ``backtrack`` steps
back with ``branches`` fresh noises (the forward process), then continue; repeat at every checkpoint. The
leaves at the last step are the round's candidates. The tree (scores at each checkpoint, what was kept)
goes into the round's parameters; each leaf's lineage (root seed and every re-noising seed) rebuilds it.
"""

from __future__ import annotations

import time

from limner.tools.generators.noise import gaussian, gaussian_spec, stack
from limner.tools.search.base import Found, RoundResult, Strategy

DEFAULTS = {"branches": 2, "checkpoints": [0.5], "backtrack": 2}


def checkpoints(steps: int, options: dict) -> list[int]:
    """Checkpoint step indices from fractions of the steps, increasing, each past the last backtrack."""
    back = int(options.get("backtrack", DEFAULTS["backtrack"]))
    out, floor = [], 0
    for frac in options.get("checkpoints", DEFAULTS["checkpoints"]):
        c = round(float(frac) * steps)
        if c - back > floor and c < steps:
            out.append(c)
            floor = c
    return out


def tree_cost(width: int, steps: int, options: dict) -> int:
    """Denoising steps (per sample, summed over paths) a tree of ``width`` paths runs."""
    branches = int(options.get("branches", DEFAULTS["branches"]))
    back = int(options.get("backtrack", DEFAULTS["backtrack"]))
    live, index, total = width, 0, 0
    for c in checkpoints(steps, options):
        total += live * (c - index)
        live = min(width, -(-live // branches) * branches)
        index = c - back
    return total + live * (steps - index)


def replay(loop, spec: dict) -> object:
    """One path's final image from its lineage, alone (batched kernels may round it by one level)."""
    import torch

    shape = loop.generator.latent_shape()
    with torch.no_grad():
        x = loop.initial(gaussian(spec["root_seed"], shape)[None])
        index = 0
        for at, back_to, seed in spec["branches"]:
            x = loop.run(x, index, at)
            x = loop.renoise(x, at, back_to, gaussian(seed, shape)[None])
            index = back_to
        x = loop.run(x, index, loop.steps)
        return loop.to_pil(loop.decode(x))[0]


class PathSearch(Strategy):
    name = "paths"
    description = "denoise several paths to a checkpoint, keep the best by the verifier, branch, continue"
    needs_loop = True
    needs_scorer = True
    option_names = frozenset(DEFAULTS)

    def min_nfe(self, spec, options=None):
        return tree_cost(1, spec.steps, {**DEFAULTS, **(options or {})}) * (2 if spec.uses_cfg else 1)

    def round(self, ctx, n, nfe_allowance, history, memo):
        import torch

        from limner.tools.generators.loop import DenoiseLoop

        start = time.perf_counter()
        opts = {**DEFAULTS, **ctx.options}
        spec = ctx.spec
        factor = 2 if spec.uses_cfg else 1
        width = n
        while width > 0 and tree_cost(width, spec.steps, opts) * factor > nfe_allowance:
            width -= 1
        if width < 1:
            return RoundResult([], 0, 0, 0, 0.0, {"width": 0}, memo)
        branches, back = int(opts["branches"]), int(opts["backtrack"])
        cps = checkpoints(spec.steps, opts)
        shape = ctx.generator.latent_shape()
        loop = DenoiseLoop(ctx.generator, ctx.prompt, ctx.negative_prompt)
        calls, tree = 0, []
        try:
            with torch.no_grad():
                lineage = [{"kind": "path", "root_seed": s, "branches": []} for s in ctx.seeds.take(width)]
                x = loop.initial(stack([gaussian_spec(item["root_seed"]) for item in lineage], shape))
                index = 0
                for c in cps:
                    x, x0 = loop.run(x, index, c, want_x0=True)
                    scores = ctx.scorer(loop.to_pil(loop.decode(x0)))
                    calls += len(scores)
                    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
                    kept = order[: -(-len(scores) // branches)]
                    parents = [j for j in kept for _ in range(branches)][:width]
                    seeds = ctx.seeds.take(len(parents))
                    noise = torch.stack([gaussian(s, shape) for s in seeds])
                    x = loop.renoise(x[parents], c, c - back, noise)
                    tree.append({"checkpoint": c, "back_to": c - back, "scores": [round(s, 6) for s in scores],
                                 "kept": kept, "children_of": parents})
                    lineage = [{**lineage[j], "branches": lineage[j]["branches"] + [[c, c - back, s]]}
                               for j, s in zip(parents, seeds)]
                    index = c - back
                x = loop.run(x, index, spec.steps)
                images = loop.to_pil(loop.decode(x))
            nfe = loop.nfe
        finally:
            loop.close()
        found = [Found(image=im, noise=lin, sampler="limner-loop", details={"leaf": i},
                       settings=loop.describe()) for i, (im, lin) in enumerate(zip(images, lineage))]
        params = {"width": width, "branches": branches, "checkpoints": cps, "backtrack": back, "tree": tree,
                  "candidates": len(found)}
        return RoundResult(found, nfe, nfe, calls, time.perf_counter() - start, params, memo)
