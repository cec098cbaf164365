"""``random``: best-of-N. Each round draws fresh, independent noises (Ma et al.'s random search)."""

from __future__ import annotations

import time

from limner.tools.generators.noise import gaussian_spec
from limner.tools.search.base import Found, RoundResult, SearchContext, Strategy


def sample(ctx: SearchContext, noises: list[dict]) -> tuple[list[Found], int, dict | None]:
    """One batched pipeline call for ``noises``; each Found remembers the batch it ran in (a part of
    ``noises`` when the call ran out of memory and was split). Returns the founds, the NFE and, when the call
    was split, ``{"lost_nfe", "batch"}``."""
    result = ctx.generator.generate(ctx.prompt, noises=noises, base_dir=ctx.base_dir,
                                    negative_prompt=ctx.negative_prompt, on_step=ctx.on_step)
    found = [Found(image=im, noise=spec, batch=result.batch_of(k, noises))
             for k, (im, spec) in enumerate(zip(result.images, noises))]
    oom = {"lost_nfe": result.oom_lost_nfe, "batch": result.batch} if result.oom_lost_nfe else None
    return found, result.nfe, oom


class RandomSearch(Strategy):
    name = "random"
    description = "best-of-N: a round of fresh, independent noises"

    def round(self, ctx, n, nfe_allowance, history, memo):
        """Fresh noises in one pipeline call; candidates ``ctx.saved`` says are on disk are not made again."""
        start = time.perf_counter()
        k = min(n, nfe_allowance // ctx.spec.nfe_per_candidate())
        if k < 1:
            return RoundResult([], 0, 0, 0, 0.0, {"candidates": 0}, memo)
        noises = [gaussian_spec(s) for s in ctx.seeds.take(k)]
        todo = [i for i in range(k) if not (ctx.saved and ctx.saved(i))]
        found: list[Found | None] = [None] * k
        nfe, oom = 0, None
        if todo:
            made, nfe, oom = sample(ctx, [noises[i] for i in todo])
            for i, f in zip(todo, made):
                found[i] = f
        return RoundResult(found, nfe, nfe, 0, time.perf_counter() - start, {"candidates": k}, memo, oom=oom)
