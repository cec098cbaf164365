"""The edit-phrasing table (``benchmarks/suites/edit_phrasings.yaml``) read by a reader: the share of phrasings
whose intent is right, per split (dev: tuned on; test: held out, written with dev before the reader; fresh:
written after the rules reader was frozen) and per expected action/kind.

    limner bench intents [--reader rules|llm]
"""

from __future__ import annotations

from pathlib import Path

TABLE = Path(__file__).resolve().parents[2] / "benchmarks" / "suites" / "edit_phrasings.yaml"


def load(path: Path = TABLE) -> tuple[dict, list[dict]]:
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data["contexts"], data["rows"]


def scene_of(contexts: dict, row: dict):
    from limner.agent.edits.intent import Scene

    ctx = contexts[row["context"]]
    return Scene(objects=ctx["objects"], candidates=ctx["candidates"], history=row.get("history", []))


def run(read_one, path: Path = TABLE, splits: tuple[str, ...] = ("dev", "test", "fresh")) -> dict:
    """``read_one(text, scene) -> Intent`` over every row of ``splits``: per row its reading and what it got
    wrong."""
    from limner.agent.edits.intent import expected_match

    contexts, rows = load(path)
    rows = [r for r in rows if r["split"] in splits]
    out = []
    for row in rows:
        try:
            intent = read_one(row["text"], scene_of(contexts, row))
            wrong = expected_match(intent, row["expect"])
            got = intent.model_dump(exclude_defaults=True)
        except Exception as exc:  # noqa: BLE001 - a reader that fails on a row is wrong on it, and says why
            wrong, got = [f"failed: {type(exc).__name__}: {exc}"], None
        out.append({"split": row["split"], "text": row["text"], "context": row["context"], "expect": row["expect"],
                    "got": got, "wrong": wrong})
    summary = {}
    for split in splits:
        rs = [r for r in out if r["split"] == split]
        summary[split] = {"n": len(rs), "right": sum(not r["wrong"] for r in rs),
                          "share": round(sum(not r["wrong"] for r in rs) / max(1, len(rs)), 4)}
    by_kind: dict[str, dict] = {}
    for r in out:
        key = r["expect"].get("kind") or r["expect"]["action"]
        k = by_kind.setdefault(key, {"n": 0, "right": 0})
        k["n"] += 1
        k["right"] += not r["wrong"]
    return {"summary": summary, "by_kind": by_kind, "rows": out}
