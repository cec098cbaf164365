"""``zero_order``: search the neighbourhood of the best noise so far (Ma et al. 2025, zero-order search).

Each round makes neighbours ``shell(pivot + lambda * eps)`` of the pivot noise (``shell`` keeps them on the
Gaussian shell). The pivot moves to the round's best candidate only when that beats the pivot; a round that
brings nothing is followed by a restart: a round of fresh noises whose best becomes the next pivot. With a
``population`` above 1 (the context's: the policy's), the round's neighbours are shared, in turn, between the
pivot and the next best candidates so far, so a runner-up's neighbourhood is searched too.
"""

from __future__ import annotations

import time

from limner.tools.generators.noise import gaussian_spec, neighbour_spec
from limner.tools.search.base import RoundResult, Strategy, best_of
from limner.tools.search.random import sample


class ZeroOrderSearch(Strategy):
    name = "zero_order"
    description = "neighbours of the best noise so far; the pivot moves on improvement, restarts when stuck"
    needs_explicit_noise = True
    option_names = frozenset({"lambda"})

    def round(self, ctx, n, nfe_allowance, history, memo):
        start = time.perf_counter()
        lam = float(ctx.options.get("lambda", 0.6))
        k = min(n, nfe_allowance // ctx.spec.nfe_per_candidate())
        if k < 1:
            return RoundResult([], 0, 0, 0, 0.0, {"candidates": 0}, memo)
        pivot_id, pivot_score = memo.get("pivot_id"), memo.get("pivot_score")
        last_ids = set(memo.get("last_ids", []))
        last = best_of(history, last_ids, need_explicit=True) if last_ids else None
        if pivot_id is None:  # first round here, or the round after a restart
            pivot = last if memo.get("restarted_last") else best_of(history, need_explicit=True)
            why = "best of the restart round" if memo.get("restarted_last") else "best candidate so far"
        elif last is not None and last["score"] > pivot_score:
            pivot, why = last, f"moved: {last['id']} beat pivot {pivot_id}"
        else:
            pivot, why = None, f"restart: no neighbour beat pivot {pivot_id}"
        if pivot is None:
            noises = [gaussian_spec(s) for s in ctx.seeds.take(k)]
            params = {"restart": True, "reason": why if pivot_id else "no pivot with explicit noise", "lambda": lam,
                      "candidates": k}
            new_memo = {"pivot_id": None, "pivot_score": None, "restarted_last": True}
        else:
            pivots = [pivot, *runners_up(history, pivot, max(0, min(ctx.population, k) - 1))]
            noises = [neighbour_spec(pivots[i % len(pivots)]["noise"], s, lam)
                      for i, s in enumerate(ctx.seeds.take(k))]
            params = {"restart": False, "pivot": pivot["id"], "pivot_score": pivot["score"], "reason": why,
                      "lambda": lam, "candidates": k, "parents": [p["id"] for p in pivots]}
            new_memo = {"pivot_id": pivot["id"], "pivot_score": pivot["score"], "restarted_last": False}
        found, nfe, oom = sample(ctx, noises)
        parents = params.get("parents") or [params.get("pivot")]
        for i, f in enumerate(found):
            if f is not None:
                f.details = {"pivot": parents[i % len(parents)]}
        return RoundResult(found, nfe, nfe, 0, time.perf_counter() - start, params, new_memo, oom=oom)


def runners_up(history: list[dict], pivot: dict, n: int) -> list[dict]:
    """The next ``n`` best candidates with explicit noise and a score, the pivot left out (earliest on ties)."""
    from limner.tools.search.base import explicit

    pool = [(i, h) for i, h in enumerate(history)
            if h["id"] != pivot["id"] and explicit(h) and h.get("score") is not None]
    pool.sort(key=lambda kv: (-kv[1]["score"], kv[0]))
    return [h for _, h in pool[:n]]
