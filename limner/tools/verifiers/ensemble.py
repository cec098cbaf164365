"""Run several verifiers and combine their scores: weighted mean, or the rank ensemble of Ma et al. (2025).

``score_all`` runs verifiers concurrently (threads) and returns, per verifier, one ``Score`` per image in
the images' order: results are keyed by verifier and by position, never by completion order.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from limner.tools.verifiers.base import Score


def score_all(verifiers: list[tuple[str, object]], images: list, prompts: list[str],
              parallel: bool = True, failed: dict | None = None,
              catch: tuple[type[Exception], ...] = ()) -> dict[str, list[Score]]:
    """``{name: [Score per image]}``. With ``catch``, a verifier that raises one of those is left out of the
    result and its error recorded in ``failed`` (``{name: message}``); the others are still scored."""
    def run(item):
        name, verifier = item
        try:
            scores = verifier.score(images, prompts)
        except catch as exc:
            failed[name] = str(exc)
            return name, None
        if len(scores) != len(images):
            raise RuntimeError(f"verifier {name} returned {len(scores)} scores for {len(images)} images")
        return name, scores

    if parallel and len(verifiers) > 1:
        with ThreadPoolExecutor(max_workers=len(verifiers)) as pool:
            results = list(pool.map(run, verifiers))  # map keeps the verifiers' order
    else:
        results = [run(v) for v in verifiers]
    return {name: scores for name, scores in results if scores is not None}


def normalised_ranks(values: list[float]) -> list[float]:
    """Rank in [0, 1] (0 worst, 1 best); ties share their average rank; one value ranks 1."""
    n = len(values)
    if n == 1:
        return [1.0]
    order = sorted(range(n), key=lambda i: values[i])
    ranks = [0.0] * n
    i = 0
    while i < n:
        j = i
        while j + 1 < n and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 / (n - 1)
        i = j + 1
    return ranks


def combine(per_verifier: dict[str, list[float]], weights: dict[str, float], method: str = "mean") -> list[float]:
    """Combine calibrated scores per candidate. ``rank``: weighted mean of each verifier's normalised rank
    (robust to verifiers whose scales disagree; relative to the candidates given)."""
    names = list(per_verifier)
    total = sum(weights[n] for n in names)
    if total <= 0:
        raise ValueError("verifier weights must add up to more than 0")
    if method == "rank":
        per_verifier = {n: normalised_ranks(v) for n, v in per_verifier.items()}
    elif method != "mean":
        raise ValueError(f"unknown ensemble '{method}': use mean or rank")
    count = len(next(iter(per_verifier.values())))
    return [sum(per_verifier[n][i] * weights[n] for n in names) / total for i in range(count)]
