"""Plan accuracy: how faithfully a planner reads briefs into scene graphs, without generating anything.

Each row of a compositional suite (``limner.tools.shapes.compose``) states its scene graph. A plan is right
when its entities (name, count, colour), relations (between the right entities) and exclusions (name, colour)
are exactly the stated ones. A *silent loss* is worse than a wrong plan: an entity, relation or exclusion of
the brief that the plan neither planned nor listed as unplanned (the text it came from is in no unplanned
span). ``limner bench plans`` prints both per tag, and seconds per brief.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict


def _key(e: dict) -> tuple:
    return (e["name"], e.get("color"))


def graph_of_plan(plan: dict) -> dict:
    objs = plan.get("objects", [])
    return {
        "entities": Counter((o["name"], o.get("color"), o["count"] if o.get("exact", True) else "some") for o in objs),
        "relations": Counter((_key(objs[r["subject"]]), r["relation"], _key(objs[r["object"]]))
                             for r in plan.get("relations", [])),
        "exclusions": Counter(_key(x) for x in plan.get("exclusions", [])),
    }


def graph_from_metadata(row: dict) -> dict:
    """The scene graph GenEval metadata states: one entity per include clause (its count, colour), one relation
    per position (the clause's objects to the group it names); exclusions are not in GenEval's metadata (its
    exclude clauses only bound counts)."""
    includes = row.get("include", [])
    entities = [{"name": r["class"], "count": r["count"], "color": r.get("color")} for r in includes]
    relations = [[i, rel, group] for i, r in enumerate(includes)
                 for rel, group in ([r["position"]] if r.get("position") else []) + list(r.get("positions", []))]
    return {"entities": entities, "relations": relations, "exclusions": []}


def graph_of_row(row: dict) -> dict:
    g = row["graph"] if "graph" in row else graph_from_metadata(row)
    ents = g["entities"]
    return {
        "entities": Counter((e["name"], e.get("color"), e["count"]) for e in ents),
        "relations": Counter((_key(ents[s]), rel, _key(ents[o])) for s, rel, o in g["relations"]),
        "exclusions": Counter(_key(x) for x in g["exclusions"]),
    }


def compare(plan: dict, row: dict) -> dict:
    """``{"correct", "missing": [...], "extra": [...], "silent": n}`` for one plan against its row's graph."""
    got, want = graph_of_plan(plan), graph_of_row(row)
    missing, extra = [], []
    for part in ("entities", "relations", "exclusions"):
        missing += [f"{part}: {k}" for k in (want[part] - got[part]).elements()]
        extra += [f"{part}: {k}" for k in (got[part] - want[part]).elements()]
    silent = len(missing) if missing and not plan.get("unplanned") else 0
    return {"correct": not missing and not extra, "missing": missing, "extra": extra, "silent": silent}


def run(rows: list[dict], planner) -> dict:
    """Plan every row with ``planner`` (``plan(prompt) -> Plan``); per-tag and overall accuracy, silent losses,
    errors (a plan that raised) and seconds per brief."""
    results = []
    started = time.perf_counter()
    for row in rows:
        t0 = time.perf_counter()
        try:
            plan = planner.plan(row["prompt"]).model_dump()
            verdict = compare(plan, row)
            error = None
        except Exception as exc:  # noqa: BLE001 - a planner that raises is counted, not fatal
            verdict, error = {"correct": False, "missing": [], "extra": [], "silent": 0}, f"{type(exc).__name__}: {exc}"
        results.append({"tag": row["tag"], "prompt": row["prompt"], "phrasing": row.get("phrasing"),
                         "seconds": time.perf_counter() - t0, "error": error, **verdict})
    per_tag: dict[str, list[dict]] = defaultdict(list)
    for r in results:
        per_tag[r["tag"]].append(r)
    tags = {t: {"accuracy": sum(r["correct"] for r in rs) / len(rs), "n": len(rs),
                "silent": sum(r["silent"] > 0 for r in rs), "errors": sum(r["error"] is not None for r in rs)}
            for t, rs in per_tag.items()}
    return {"overall": sum(r["correct"] for r in results) / max(1, len(results)), "tags": tags,
            "briefs": len(results), "silent": sum(r["silent"] > 0 for r in results),
            "errors": sum(r["error"] is not None for r in results),
            "seconds_per_brief": (time.perf_counter() - started) / max(1, len(results)), "results": results}


def table(result: dict) -> str:
    lines = [f"{'tag':<16}{'accuracy':>10}{'n':>5}{'silent':>8}{'errors':>8}"]
    for tag, t in result["tags"].items():
        lines.append(f"{tag:<16}{t['accuracy']:>10.3f}{t['n']:>5}{t['silent']:>8}{t['errors']:>8}")
    lines.append(f"{'overall':<16}{result['overall']:>10.3f}{result['briefs']:>5}{result['silent']:>8}"
                 f"{result['errors']:>8}")
    lines.append(f"seconds per brief: {result['seconds_per_brief']:.4f}")
    return "\n".join(lines)
