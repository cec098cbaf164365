"""The repair loop's reading of a verdict: what failed, where, and which action that calls for.

``findings`` come from verifiers that report them (the question verifier: one per object and relation).
A missing or wrongly coloured object is *localisable*: it is repaired by inpainting its box (the wrong
object's box, grown by a margin; for a missing one, its region in the plan's layout). An object in the wrong
place, when both it and its reference object were found, is *moved*: its box is repainted with what else
the plan shows (erase), then it is painted in a box beside the reference object on the right side. Wrong
counts span the image: they call for a new generation with the layout. Nothing reported: noise search or
a re-plan.
"""

from __future__ import annotations

GAP = 0.06  # a moved object keeps this fraction of the image away from the object it is placed beside
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


def moved_box(subject: list[float], target: list[float], relation: str) -> list[float] | None:
    """The subject's box moved beside ``target`` so that it stands in ``relation`` to it (None if it does not fit)."""
    w, h = subject[2] - subject[0], subject[3] - subject[1]
    cx, cy = (target[0] + target[2]) / 2, (target[1] + target[3]) / 2
    x0, y0 = cx - w / 2, cy - h / 2
    if relation == "left of":
        x0 = target[0] - GAP - w
    elif relation == "right of":
        x0 = target[2] + GAP
    elif relation == "above":
        y0 = target[1] - GAP - h
    elif relation == "below":
        y0 = target[3] + GAP
    else:
        return None
    if relation in ("left of", "right of"):
        y0 = min(max(y0, 0.0), 1.0 - h)
    else:
        x0 = min(max(x0, 0.0), 1.0 - w)
    if x0 < 0 or y0 < 0 or x0 + w > 1 or y0 + h > 1:
        return None
    return [round(x0, 4), round(y0, 4), round(x0 + w, 4), round(y0 + h, 4)]


INVERSE = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}


def _moves(state: dict, best: dict, tries: dict) -> list[dict]:
    """Wrong places fixable by moving one object: erase it where it is, paint it on the right side of the other.

    The subject is moved beside the reference object; if it does not fit there, the reference object is moved
    to the other side of the subject.
    """
    plan = state["plan"]
    found = {f["index"]: f for f in candidate_findings(best) if f["kind"] == "object"}
    out = []
    for f in candidate_findings(best):
        key = f"r{f['index']}"
        if f["kind"] != "relation" or f["status"] != "wrong_place" or tries.get((best["id"], key), 0) >= TRIES:
            continue
        rel = plan["relations"][f["index"]]
        subject, target = found.get(rel["subject"]), found.get(rel["object"])
        if not (subject and target and subject["status"] == "present" and target["status"] == "present"
                and subject.get("box") and target.get("box")):
            continue
        for mover, anchor, relation in ((rel["subject"], rel["object"], rel["relation"]),
                                        (rel["object"], rel["subject"], INVERSE[rel["relation"]])):
            box = moved_box(found[mover]["box"], found[anchor]["box"], relation)
            if box is not None:
                break
        else:
            continue
        erase_prompt = erase_text(plan)
        phrase = _phrase(plan, mover)
        name = phrase.removeprefix("a ").removeprefix("an ")
        out.append({"parent": best["id"], "object": key, "status": "wrong_place", "box": box, "phrase": phrase,
                    "erase": {"box": _grow(found[mover]["box"], MARGIN / 2), "prompt": erase_prompt},
                    "why": f"{_phrase(plan, rel['subject'])} is not {rel['relation']} {_phrase(plan, rel['object'])} "
                           f"in {best['id']}: move the {name} {relation} the other"})
    return out


def erase_text(plan: dict) -> str:
    """What an erasing inpainting paints: the background the plan names, or '' for the model's own
    ``erase_prompt`` (the repair node fills it in: the other objects' phrases would paint more objects)."""
    return (plan.get("layout") or {}).get("background") or plan.get("background") or ""


def parents(state: dict, population: int = 1) -> list[dict]:
    """The candidates a repair may start from: the best, then the next best made for the current plan (and
    for what the image should show now), up to ``population``; earlier rounds' candidates stay eligible."""
    best = best_candidate(state)
    if best is None:
        return []
    version = (state.get("plan") or {}).get("version")
    rivals = [c for c in state.get("candidates", [])[state.get("goal_since", 0):]
              if c is not best and c.get("score") is not None and c.get("plan_version") == version]
    rivals.sort(key=lambda c: -c["score"])  # stable: the earlier of equal scores first
    return [best, *rivals[:max(0, population - 1)]]


def person_region(state: dict) -> list[float] | None:
    """The region a person marked for an edit (``--box``, or the bounding box of ``--mask``), as fractions; None
    when the whole image may change. An edit of a region never changes anything outside it."""
    brief = state.get("brief") or {}
    if brief.get("box"):
        return list(brief["box"])
    if brief.get("mask") and state.get("run_dir"):
        from limner.tools.editing.masks import mask_bbox

        return mask_bbox(f"{state['run_dir']}/mask.png")
    return None


def _clip(box: list[float], region: list[float] | None) -> list[float] | None:
    """``box`` cut to ``region`` (None when they do not overlap enough to paint in: under 2% of the image)."""
    if region is None:
        return box
    x0, y0 = max(box[0], region[0]), max(box[1], region[1])
    x1, y1 = min(box[2], region[2]), min(box[3], region[3])
    return [round(x0, 4), round(y0, 4), round(x1, 4), round(y1, 4)] if (x1 - x0) * (y1 - y0) >= 0.02 else None


def repair_targets(state: dict, nfe_left: int | None = None, cost: int = 0, population: int = 1) -> list[dict]:
    """Localisable failures of the best candidates (``parents``: the best first), most basic first, none tried
    twice on the same candidate.

    A move (erase, then paint elsewhere) costs two inpaintings: it is offered only when ``nfe_left`` covers
    ``2 * cost`` (one candidate's two passes), or when no budget is given.
    """
    plan = state["plan"]
    region = person_region(state)
    tries: dict[tuple, int] = {}
    for r in state.get("repairs", []):
        tries[(r["parent"], r["object"])] = tries.get((r["parent"], r["object"]), 0) + 1
    out = []
    for best in parents(state, population):
        for f in candidate_findings(best):
            if f["kind"] != "object" or tries.get((best["id"], f["index"]), 0) >= TRIES:
                continue
            if f["status"] == "wrong_color" and f.get("box"):
                box, why = _grow(f["box"]), "has the wrong colour"
            elif f["status"] == "missing" and _region_box(plan, f["index"]):
                box, why = _region_box(plan, f["index"]), "is missing"
            else:
                continue
            box = _clip(box, region)
            if box is None:  # outside the region the person marked: not this edit's to change
                continue
            phrase = _phrase(plan, f["index"])
            # a found object is painted in a mask with a margin round its box, grounded in the box itself
            ground = _clip(f["box"], region) if f["status"] == "wrong_color" else None
            out.append({"parent": best["id"], "object": f["index"], "status": f["status"], "box": box,
                        **({"ground": ground} if ground else {}), "phrase": phrase, "why": f"{phrase.removeprefix('a ').removeprefix('an ')} {why} in {best['id']}",
                        **({"recolor": True} if f["status"] == "wrong_color" else {})})
        if (nfe_left is None or nfe_left >= 2 * cost) and region is None:  # a move repaints beyond a region
            out += _moves(state, best, tries)
    return out


def spans_image(state: dict) -> list[str]:
    """Failures of the best candidate that no single region can fix (wrong counts, wrong places)."""
    best = best_candidate(state)
    if best is None:
        return []
    return [f"{f['kind']} {f['index']}: {f['status']}" for f in candidate_findings(best)
            if f["status"] in {"wrong_count", "wrong_place"}]
