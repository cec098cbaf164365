"""Accuracy against compute: each search strategy on ShapesEval at several NFE budgets, with two verifiers.

The verifier guides the search; ShapesEval's own scorer (GenEval's rules on the exact parser) judges the
best image in every case. ``shapes-clip`` is a learned verifier; ``oracle`` is the plan's questions answered
by the exact parser, an upper bound on what a verifier can give the search. ``reno`` always follows the
gradient of shapes-clip (the parser has none); with the oracle, the oracle picks its best iterate.

A strategy that cannot afford a round at a budget falls back to random rounds (so 1x is one plain sample
for every strategy); the rows record which strategies actually ran.
"""

from __future__ import annotations

import time
from typing import Callable

VERIFIER_NAMES = ("shapes-clip", "oracle")


def _scorers(prompt: str, clip, oracle):
    def clip_score(images):
        return [s.score for s in clip.score(images, [prompt] * len(images))]

    def oracle_score(images):
        return [s.score for s in oracle.score(images, [prompt] * len(images))]

    def reward(pixels):
        return clip.reward(pixels, [prompt] * pixels.shape[0])

    return {"shapes-clip": clip_score, "oracle": oracle_score}, reward


def run_search_bench(suite: list[dict], *, strategies: list[str], verifiers: list[str], budgets: list[int],
                     n: int = 4, seed: int = 0, model: str = "shapes-tiny", options: dict | None = None,
                     progress: Callable[[int, int], None] | None = None) -> dict:
    """Rows (one per prompt, verifier, strategy and budget) and a summary per strategy, verifier and budget."""
    from limner.tools.generators import resolve_model
    from limner.tools.generators.diffusers_backend import DiffusersGenerator
    from limner.tools.search import STRATEGIES, search
    from limner.tools.shapes.geneval import score_image
    from limner.tools.verifiers import make_verifier

    for name in strategies:
        if name not in STRATEGIES:
            raise ValueError(f"unknown strategy '{name}' (known: {', '.join(STRATEGIES)})")
    for name in verifiers:
        if name not in VERIFIER_NAMES:
            raise ValueError(f"unknown bench verifier '{name}' (known: {', '.join(VERIFIER_NAMES)})")
    spec = resolve_model(model)
    gen = DiffusersGenerator(spec)
    clip = make_verifier("shapes-clip")
    from limner.agent.planners.rules import rules_plan

    oracle = make_verifier("questions", answerer="parser", plan_fn=rules_plan)
    unit = spec.nfe_per_candidate()
    rows, total, done = [], len(suite) * len(verifiers) * len(strategies) * len(budgets), 0
    start = time.perf_counter()
    for i, metadata in enumerate(suite):
        prompt = metadata["prompt"]
        scorers, reward = _scorers(prompt, clip, oracle)
        for vname in verifiers:
            for strategy in strategies:
                for budget in budgets:
                    t0 = time.perf_counter()
                    out = search(strategy, gen, prompt, scorer=scorers[vname], reward=reward,
                                 nfe_budget=budget * unit, n=n, seed=seed + 1000 * i,
                                 options=(options or {}).get(strategy))
                    judged = score_image(out.best_image, metadata)
                    rows.append({
                        "prompt": i, "tag": metadata["tag"], "strategy": strategy, "verifier": vname,
                        "budget": budget, "nfe_budget": budget * unit, "nfe": out.nfe, "nfe_charged": out.nfe_charged,
                        "verifier_calls": out.verifier_calls, "seconds": round(time.perf_counter() - t0, 3),
                        "ran": sorted({r["strategy"] for r in out.rounds}), "rounds": len(out.rounds),
                        "verifier_score": round(out.best["score"], 6), "correct": bool(judged["correct"]),
                    })
                    done += 1
                    if progress is not None:
                        progress(done, total)
    return {"model": spec.alias, "nfe_per_sample": unit, "samples_per_round": n, "seed": seed,
            "prompts": len(suite), "budgets": budgets, "strategies": strategies, "verifiers": verifiers,
            "summary": summarise(rows), "seconds": round(time.perf_counter() - start, 1), "rows": rows}


def summarise(rows: list[dict]) -> list[dict]:
    """Accuracy per tag and overall (mean over tags, as GenEval) per strategy, verifier and budget."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["strategy"], r["verifier"], r["budget"]), []).append(r)
    out = []
    for (strategy, verifier, budget), rs in groups.items():
        tags: dict[str, list[bool]] = {}
        for r in rs:
            tags.setdefault(r["tag"], []).append(r["correct"])
        per_tag = {t: round(sum(v) / len(v), 4) for t, v in sorted(tags.items())}
        out.append({"strategy": strategy, "verifier": verifier, "budget": budget,
                    "overall": round(sum(per_tag.values()) / len(per_tag), 4), "tags": per_tag,
                    "mean_nfe_charged": round(sum(r["nfe_charged"] for r in rs) / len(rs), 1),
                    "mean_seconds": round(sum(r["seconds"] for r in rs) / len(rs), 3), "n": len(rs)})
    return out


def table(summary: list[dict], budgets: list[int]) -> str:
    """Overall accuracy: one row per strategy and verifier, one column per budget."""
    head = f"{'strategy':<11} {'verifier':<12}" + "".join(f"{str(b) + 'x':>8}" for b in budgets)
    lines = [head]
    keys = sorted({(s["strategy"], s["verifier"]) for s in summary}, key=lambda k: (k[1], k[0]))
    cell = {(s["strategy"], s["verifier"], s["budget"]): s["overall"] for s in summary}
    for strategy, verifier in keys:
        lines.append(f"{strategy:<11} {verifier:<12}" + "".join(
            f"{cell.get((strategy, verifier, b), float('nan')):8.3f}" for b in budgets))
    return "\n".join(lines)


def best_per_budget(summary: list[dict], budgets: list[int]) -> dict:
    """For each budget and verifier, the strategy with the highest overall accuracy (ties listed together)."""
    out = {}
    for verifier in sorted({s["verifier"] for s in summary}):
        for b in budgets:
            cells = [s for s in summary if s["verifier"] == verifier and s["budget"] == b]
            if cells:
                top = max(c["overall"] for c in cells)
                out[f"{verifier}@{b}x"] = {"strategies": sorted(c["strategy"] for c in cells if c["overall"] == top),
                                           "overall": top}
    return out
