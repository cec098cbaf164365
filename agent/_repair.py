"""The repair loop's reading of a verdict: what failed, where, and which action that calls for.

``findings`` come from verifiers that report them (the question verifier: one per object and relation).
A missing or wrongly coloured object is *localisable*: it is repaired by inpainting its box (the wrong
object's box, grown by a margin; for a missing one, its region in the plan's layout). Wrong counts and
wrong places span the image: they call for a new generation with the layout. Nothing reported: noise
search or a re-plan.
"""

from __future__ import annotations

TRIES = 2  # repair rounds per failing object of one candidate (each round tries several seeds)
MARGIN = 0.06  # grow a found object's box by this fraction of the image on every side


def best_candidate(state: dict) -> dict | None:
    return next((c for c in state.get("candidates", []) if c["id"] == state.get("best_id")), None)


def candidate_findings(candidate: dict) -> list[dict]:
    for score in (candidate.get("scores") or {}).values():
        found = (score.get("detail") or {}).get("findings")
        if found is not None:
            return found
    return []


def _grow(box: list[float], margin: float = MARGIN) -> list[float]:
    x0, y0, x1, y1 = box
    return [round(max(0.0, x0 - margin), 4), round(max(0.0, y0 - margin), 4),
            round(min(1.0, x1 + margin), 4), round(min(1.0, y1 + margin), 4)]


def _phrase(plan: dict, index: int) -> str:
    for region in (plan.get("layout") or {}).get("regions", []):
        if region.get("object") == index:
            return region["phrase"]
    obj = plan["objects"][index]
    return " ".join(w for w in ("a", obj.get("color"), obj["name"]) if w)


def _region_box(plan: dict, index: int) -> list[float] | None:
    for region in (plan.get("layout") or {}).get("regions", []):
        if region.get("object") == index:
            return list(region["box"])
    return None


def repair_targets(state: dict) -> list[dict]:
    """Localisable failures of the best candidate, most basic first, not yet tried on that candidate."""
    best = best_candidate(state)
    if best is None:
        return []
    plan = state["plan"]
    tries: dict[tuple, int] = {}
    for r in state.get("repairs", []):
        tries[(r["parent"], r["object"])] = tries.get((r["parent"], r["object"]), 0) + 1
    out = []
    for f in candidate_findings(best):
        if f["kind"] != "object" or tries.get((best["id"], f["index"]), 0) >= TRIES:
            continue
        if f["status"] == "wrong_color" and f.get("box"):
            box, why = _grow(f["box"]), "has the wrong colour"
        elif f["status"] == "missing" and _region_box(plan, f["index"]):
            box, why = _region_box(plan, f["index"]), "is missing"
        else:
            continue
        phrase = _phrase(plan, f["index"])
        out.append({"parent": best["id"], "object": f["index"], "status": f["status"], "box": box, "phrase": phrase,
                    "why": f"{phrase.removeprefix('a ').removeprefix('an ')} {why} in {best['id']}"})
    return out


def spans_image(state: dict) -> list[str]:
    """Failures of the best candidate that no single region can fix (wrong counts, wrong places)."""
    best = best_candidate(state)
    if best is None:
        return []
    return [f"{f['kind']} {f['index']}: {f['status']}" for f in candidate_findings(best)
            if f["status"] in {"wrong_count", "wrong_place"}]
