"""``search()``: run one strategy round after round within an NFE budget, without the agent.

The agent's loop does the same with more around it (plans, several verifiers, a manifest). Here the
``scorer`` both scores each round's candidates and serves as the strategy's inner verifier.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class SearchOutcome:
    best: dict  # the best candidate's entry (id, score, noise, sampler, round, strategy)
    best_image: object  # PIL
    candidates: list[dict]  # every candidate's entry, in order
    rounds: list[dict]  # per round: strategy, params, nfe, nfe_charged, verifier calls, best so far
    nfe: int = 0
    nfe_charged: int = 0
    verifier_calls: int = 0
    seconds: float = 0.0
    stop_reason: str = ""
    images: dict = field(default_factory=dict, repr=False)  # id -> PIL, only with keep_images=True


def search(strategy: str, generator, prompt: str, *, scorer, nfe_budget: int, n: int = 4, seed: int = 0,
           reward=None, options: dict | None = None, negative_prompt: str = "", work_dir: str | Path | None = None,
           max_rounds: int = 1000, keep_images: bool = False) -> SearchOutcome:
    """Search with ``strategy`` until the NFE budget cannot pay for another round; return the best candidate.

    Noise files (reno) are written under ``work_dir``; without one, a temporary folder that is removed on
    return. A round the strategy cannot afford (or cannot run here) falls back to a ``random`` round when that fits,
    so that every budget buys at least the samples random search would. ``nfe_budget`` is never exceeded.
    """
    from limner.tools.generators.noise import save_noise
    from limner.tools.search.registry import STRATEGIES
    from limner.tools.search.base import SearchContext, SeedSource, best_of

    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy '{strategy}' (known: {', '.join(STRATEGIES)})")
    if work_dir is None:
        with tempfile.TemporaryDirectory(prefix="limner-search-") as tmp:
            return search(strategy, generator, prompt, scorer=scorer, nfe_budget=nfe_budget, n=n, seed=seed,
                          reward=reward, options=options, negative_prompt=negative_prompt, work_dir=tmp,
                          max_rounds=max_rounds, keep_images=keep_images)
    work = Path(work_dir)
    ctx = SearchContext(generator=generator, prompt=prompt, seeds=SeedSource(seed), negative_prompt=negative_prompt,
                        scorer=scorer, reward=reward, base_dir=work, options=dict(options or {}))
    spec = generator.spec
    history: list[dict] = []
    memos: dict[str, dict] = {}
    rounds: list[dict] = []
    images: dict = {}
    best_image = None
    totals = {"nfe": 0, "nfe_charged": 0, "verifier_calls": 0}
    start = time.perf_counter()
    stop = "round limit"
    for r in range(1, max_rounds + 1):
        left = nfe_budget - totals["nfe_charged"]
        name = strategy
        strat = STRATEGIES[name]
        why_not = strat.unavailable(spec, has_scorer=scorer is not None, has_reward=reward is not None,
                                    options=dict(options or {}))  # asked for by name: options given
        if why_not or left < strat.min_nfe(spec, ctx.options):
            name, strat = "random", STRATEGIES["random"]
        if left < strat.min_nfe(spec, ctx.options):
            stop = f"NFE budget spent: {left} of {nfe_budget} left"
            break
        ctx.options = dict(options or {}) if name == strategy else {}
        result = strat.round(ctx, n, left, history, memos.get(name, {}))
        if not result.found:
            stop = f"{name} could not make a candidate with {left} NFE left"
            break
        if result.nfe_charged > left:  # a strategy bug, never hidden
            raise RuntimeError(f"{name} spent {result.nfe_charged} NFE of an allowance of {left}")
        ids = [f"r{r:02d}-c{i:02d}" for i in range(len(result.found))]
        scores = scorer([f.image for f in result.found])
        for cid, f, s in zip(ids, result.found, scores):
            noise = f.noise
            if f.tensor is not None:
                noise = save_noise(f.tensor, work / f"{cid}.noise.safetensors")
            history.append({"id": cid, "round": r, "strategy": name, "noise": noise, "sampler": f.sampler,
                            "score": float(s), "details": f.details, "settings": f.settings})
            if keep_images:
                images[cid] = f.image
        memos[name] = {**result.memo, "last_ids": ids}
        for k in totals:
            totals[k] += getattr(result, k)
        totals["verifier_calls"] += len(scores)
        best = best_of(history)
        if best["id"] in ids:
            best_image = result.found[ids.index(best["id"])].image
        rounds.append({"round": r, "strategy": name, "params": result.params, "nfe": result.nfe,
                       "nfe_charged": result.nfe_charged, "verifier_calls": result.verifier_calls + len(scores),
                       "seconds": round(result.seconds, 4), "best_id": best["id"], "best_score": best["score"]})
    if not history:
        raise ValueError(f"an NFE budget of {nfe_budget} cannot pay for one candidate "
                         f"({spec.nfe_per_candidate()} NFE each)")
    best = best_of(history)
    return SearchOutcome(best=best, best_image=best_image, candidates=history, rounds=rounds,
                         seconds=time.perf_counter() - start, stop_reason=stop, images=images, **totals)
