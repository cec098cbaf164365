"""How well a verifier's ranking agrees with ShapesEval's scorer: pairwise accuracy on candidate pairs.

For each prompt, ``samples`` candidates are generated and judged by the scorer (GenEval's rules on the
exact parser: correct or not). Every pair of candidates of the same prompt where exactly one is correct is
a test: the verifier agrees when it scores the correct one higher (a tie counts half). 0.5 is chance.

For verifiers that answer the plan's checks (``questions``), ``check_accuracy`` says, per kind of check, how
often a check's verdict (after DSG's dependency rule) equals the one the scorer's parser gives on the same
generated image, and ``believed_correct`` how often the verifier passes every check of an image the scorer
judges wrong (a false pass) or fails one of an image it judges right.
"""

from __future__ import annotations

import time
from itertools import combinations


def agreement(verifiers: dict[str, object], suite: list[dict], source, samples: int = 4, seed: int = 0,
              progress=None) -> dict:
    from limner.agent.planners.rules import rules_plan
    from limner.tools.shapes.geneval import score_image
    from limner.tools.verifiers.answerers import ParserAnswerer
    from limner.tools.verifiers.ensemble import score_all
    from limner.tools.verifiers.questions import dsg_score

    stats = {name: {"agree": 0.0, "pairs": 0, "seconds": 0.0} for name in verifiers}
    per_tag: dict[str, dict[str, list[float]]] = {}
    checks: dict[str, dict[str, list[bool]]] = {}
    beliefs: dict[str, dict[str, int]] = {}
    parser = ParserAnswerer()
    for i, metadata in enumerate(suite):
        seeds = [seed + i * samples + j for j in range(samples)]
        images = source(metadata, seeds)
        correct = [score_image(im, metadata)["correct"] for im in images]
        plan = rules_plan(metadata["prompt"])
        truth = [{r["id"]: r["passed"] for r in dsg_score(plan["checks"], parser.answer(im, plan))[1]}
                 for im in images]
        pairs = [(a, b) for a, b in combinations(range(samples), 2) if correct[a] != correct[b]]
        for name, verifier in verifiers.items():
            start = time.perf_counter()
            scores = score_all([(name, verifier)], images, [metadata["prompt"]] * samples)[name]
            stats[name]["seconds"] += time.perf_counter() - start
            for a, b in pairs:
                good, bad = (a, b) if correct[a] else (b, a)
                s_good, s_bad = scores[good].score, scores[bad].score
                value = 1.0 if s_good > s_bad else 0.5 if s_good == s_bad else 0.0
                stats[name]["agree"] += value
                stats[name]["pairs"] += 1
                per_tag.setdefault(metadata["tag"], {}).setdefault(name, []).append(value)
            for k, score in enumerate(scores):
                records = (score.detail or {}).get("questions")
                if records is None:
                    continue
                for r in records:
                    checks.setdefault(name, {}).setdefault(r["kind"], []).append(r["passed"] == truth[k][r["id"]])
                believed = all(r["passed"] for r in records)
                b = beliefs.setdefault(name, {"images": 0, "false_pass": 0, "false_fail": 0, "wrong": 0})
                b["images"] += 1
                b["wrong"] += not correct[k]
                b["false_pass"] += believed and not correct[k]
                b["false_fail"] += (not believed) and correct[k]
        if progress is not None:
            progress(i + 1, len(suite))
    return {
        "pairwise_accuracy": {n: (s["agree"] / s["pairs"] if s["pairs"] else None) for n, s in stats.items()},
        "pairs": {n: s["pairs"] for n, s in stats.items()},
        "by_tag": {t: {n: sum(v) / len(v) for n, v in d.items()} for t, d in per_tag.items()},
        "check_accuracy": {n: {k: round(sum(v) / len(v), 4) for k, v in sorted(d.items())} | {
            "all": round(sum(sum(v) for v in d.values()) / sum(len(v) for v in d.values()), 4)}
            for n, d in checks.items()},
        "checks": {n: {k: len(v) for k, v in sorted(d.items())} for n, d in checks.items()},
        "believed_correct": beliefs,
        "verifier_seconds": {n: round(s["seconds"], 2) for n, s in stats.items()},
        "prompts": len(suite), "samples_per_prompt": samples,
    }
