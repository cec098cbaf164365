"""How a candidate fares on its plan's checks, read from its question verifier's records."""

from __future__ import annotations


def check_tally(candidate: dict | None) -> dict:
    """``{"passed": n, "of": answered, "failed": [question, ...], "unanswered": [question, ...]}`` over every
    question verifier's records of ``candidate``; an unanswered check (no answerer could read it) is not
    counted either way, only listed."""
    passed, answered, failed, unanswered = 0, 0, [], []
    for score in ((candidate or {}).get("scores") or {}).values():
        for q in (score.get("detail") or {}).get("questions", []):
            if q.get("counted") is None:
                unanswered.append(q["question"])
                continue
            answered += 1
            if q["passed"]:
                passed += 1
            else:
                failed.append(q["question"])
    return {"passed": passed, "of": answered, "failed": failed, "unanswered": unanswered}


def passes(candidate: dict | None, threshold: float) -> bool:
    """A candidate passes when its score meets the threshold and none of its answered checks fails."""
    return candidate is not None and candidate["score"] >= threshold and not check_tally(candidate)["failed"]
