"""``random``: best-of-N. Each round draws fresh, independent noises (Ma et al.'s random search)."""

from __future__ import annotations

import time

from limner.tools.generators.noise import gaussian_spec
from limner.tools.search.base import Found, RoundResult, SearchContext, Strategy


def sample(ctx: SearchContext, noises: list[dict]) -> tuple[list[Found], int]:
    """One batched pipeline call for ``noises``; each Found remembers the batch it ran in (a part of
    ``noises`` when the call ran out of memory and was split)."""
    result = ctx.generator.generate(ctx.prompt, noises=noises, base_dir=ctx.base_dir,
                                    negative_prompt=ctx.negative_prompt, on_step=ctx.on_step)
    found = [Found(image=im, noise=spec, batch=result.batch_of(k, noises))
             for k, (im, spec) in enumerate(zip(result.images, noises))]
    return found, result.nfe


class RandomSearch(Strategy):
    name = "random"
    description = "best-of-N: a round of fresh, independent noises"

    def round(self, ctx, n, nfe_allowance, history, memo):
        start = time.perf_counter()
        k = min(n, nfe_allowance // ctx.spec.nfe_per_candidate())
        if k < 1:
            return RoundResult([], 0, 0, 0, 0.0, {"candidates": 0}, memo)
        found, nfe = sample(ctx, [gaussian_spec(s) for s in ctx.seeds.take(k)])
        return RoundResult(found, nfe, nfe, 0, time.perf_counter() - start, {"candidates": k}, memo)
