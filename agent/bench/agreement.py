"""How well a verifier's ranking agrees with ShapesEval's scorer: pairwise accuracy on candidate pairs.

For each prompt, ``samples`` candidates are generated and judged by the scorer (GenEval's rules on the
exact parser: correct or not). Every pair of candidates of the same prompt where exactly one is correct is
a test: the verifier agrees when it scores the correct one higher (a tie counts half). 0.5 is chance.
"""

from __future__ import annotations

import time
from itertools import combinations


def agreement(verifiers: dict[str, object], suite: list[dict], source, samples: int = 4, seed: int = 0,
              progress=None) -> dict:
    from limner.tools.shapes.geneval import score_image
    from limner.tools.verifiers.ensemble import score_all

    stats = {name: {"agree": 0.0, "pairs": 0, "seconds": 0.0} for name in verifiers}
    per_tag: dict[str, dict[str, list[float]]] = {}
    for i, metadata in enumerate(suite):
        seeds = [seed + i * samples + j for j in range(samples)]
        images = source(metadata, seeds)
        correct = [score_image(im, metadata)["correct"] for im in images]
        pairs = [(a, b) for a, b in combinations(range(samples), 2) if correct[a] != correct[b]]
        if pairs:
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
        if progress is not None:
            progress(i + 1, len(suite))
    return {
        "pairwise_accuracy": {n: (s["agree"] / s["pairs"] if s["pairs"] else None) for n, s in stats.items()},
        "pairs": {n: s["pairs"] for n, s in stats.items()},
        "by_tag": {t: {n: sum(v) / len(v) for n, v in d.items()} for t, d in per_tag.items()},
        "verifier_seconds": {n: round(s["seconds"], 2) for n, s in stats.items()},
        "prompts": len(suite), "samples_per_prompt": samples,
    }
