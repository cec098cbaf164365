"""What failed and where: the question verifier's answers turned into one finding per object and relation.

A finding is ``{"kind": "object" | "relation", "index": i, "status": ..., "box": [x0, y0, x1, y1] | None,
"check": id}`` with boxes as fractions of the image. Object statuses: ``present``, ``missing``,
``wrong_count``, ``wrong_color``; relation statuses: ``ok``, ``wrong_place``; exclusion (``"kind":
"exclusion"``) statuses: ``absent``, ``unwanted`` (it is there, with the box of one). The repair loop reads them:
a missing or wrongly coloured object can be repaired in its region; wrong counts and places call for a
new generation with the layout.
"""

from __future__ import annotations

FAILED = {"missing", "wrong_count", "wrong_color", "wrong_place", "unwanted"}


def _norm(box, size) -> list[float] | None:
    if not box:
        return None
    w, h = size
    return [round(box[0] / w, 4), round(box[1] / h, 4), round(box[2] / w, 4), round(box[3] / h, 4)]


def findings(plan: dict, records: list[dict], size: tuple[int, int]) -> list[dict]:
    """Findings for every object and relation of ``plan`` from DSG ``records`` (see ``questions.dsg_score``)."""
    out = []
    by_kind: dict[tuple, dict] = {}
    for r, check in zip(records, plan.get("checks", [])):
        kind = check.get("kind")
        key = (kind, check.get("relation") if kind == "relation" else
               check.get("exclusion") if kind == "absent" else check.get("object"))
        by_kind.setdefault(key, r)
    for i, _obj in enumerate(plan.get("objects", [])):
        status, box, check = "present", None, None
        for kind, bad in (("exists", "missing"), ("count", "wrong_count"), ("color", "wrong_color")):
            r = by_kind.get((kind, i))
            if r is not None and r["answer"] is not None and not r["passed"]:
                status, box, check = bad, _norm(r.get("box"), size), r["id"]
                break
        if status == "present":
            r = by_kind.get(("exists", i))
            box = _norm(r.get("box"), size) if r else None
        out.append({"kind": "object", "index": i, "status": status, "box": box, "check": check})
    for k, _rel in enumerate(plan.get("relations", [])):
        r = by_kind.get(("relation", k))
        if r is None or r["answer"] is None:
            continue
        ok = r["passed"]
        out.append({"kind": "relation", "index": k, "status": "ok" if ok else "wrong_place",
                    "box": _norm(r.get("box"), size), "check": r["id"]})
    for k, _excl in enumerate(plan.get("exclusions", [])):
        r = by_kind.get(("absent", k))
        if r is None or r["answer"] is None:
            continue
        out.append({"kind": "exclusion", "index": k, "status": "absent" if r["passed"] else "unwanted",
                    "box": _norm(r.get("box"), size), "check": r["id"]})
    return out
