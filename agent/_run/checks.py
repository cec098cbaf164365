"""How a candidate fares on its plan's checks, read from its question verifier's records."""

from __future__ import annotations


def check_tally(candidate: dict | None) -> dict:
    """``{"passed": n, "of": answered, "failed": [question, ...]}`` over every question verifier's records of
    ``candidate``; an unanswered check (no answerer could read it) is not counted either way."""
    passed, answered, failed = 0, 0, []
    for score in ((candidate or {}).get("scores") or {}).values():
        for q in (score.get("detail") or {}).get("questions", []):
            if q.get("counted") is None:
                continue
            answered += 1
            if q["passed"]:
                passed += 1
            else:
                failed.append(q["question"])
    return {"passed": passed, "of": answered, "failed": failed}


def passes(candidate: dict | None, threshold: float) -> bool:
    """A candidate passes when its score meets the threshold and none of its answered checks fails."""
    return candidate is not None and candidate["score"] >= threshold and not check_tally(candidate)["failed"]
