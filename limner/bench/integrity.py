"""Is a run folder whole? What the reliability bench checks after every kill and resume.

``check_run(run_dir)`` reads every file the way a person's tools would: each PNG decodes, each JSON parses,
each SQLite file passes ``PRAGMA integrity_check``; each candidate record's PNG is there with the hash the
record names; ``events.jsonl`` has exactly one ``candidate_saved`` event per saved candidate (none lost, none
doubled, no torn line); no temporary file of an interrupted atomic write is left; a finished run's manifest
lists exactly the candidates on disk and its ``final.png`` is its best candidate's image.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path


def _png_ok(path: Path) -> bool:
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
        return True
    except Exception:  # any decoder error is a corrupt file
        return False


def _sqlite_ok(path: Path) -> bool:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            db.close()
    except sqlite3.Error:
        return False


def check_files(folder: Path) -> dict:
    """Every PNG, JSON and SQLite file below ``folder``: how many, and which are corrupt; stray temp files."""
    corrupt, counts, stray = [], Counter(), []
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        if path.name.startswith(".") and not path.name.startswith(".batch"):  # atomic writes' temporary names
            stray.append(str(path.relative_to(folder)))
            continue
        kind = path.suffix.lower()
        if kind == ".png":
            ok = _png_ok(path)
        elif kind == ".json":
            try:
                json.loads(path.read_text(encoding="utf-8"))
                ok = True
            except (OSError, ValueError):
                ok = False
        elif kind == ".sqlite":
            ok = _sqlite_ok(path)
        else:
            continue
        counts[kind] += 1
        if not ok:
            corrupt.append(str(path.relative_to(folder)))
    return {"files": dict(counts), "corrupt": corrupt, "stray": stray}


def _events(run_dir: Path) -> tuple[list[dict], int]:
    path = run_dir / "events.jsonl"
    if not path.is_file():
        return [], 0
    events, torn = [], 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            torn += 1
    return events, torn


def check_run(run_dir: Path | str) -> dict:
    """What is wrong with one run folder (empty lists and zeros when it is whole)."""
    from limner.tools.images import sha256_file

    run_dir = Path(run_dir)
    report = check_files(run_dir)
    records = {}
    for path in sorted((run_dir / "candidates").glob("r*-c*.json")):
        try:
            records[path.stem] = json.loads(path.read_text())
        except ValueError:
            continue  # already counted as corrupt
    mismatched = [cid for cid, rec in records.items()
                  if not (run_dir / "candidates" / f"{cid}.png").is_file()
                  or sha256_file(run_dir / "candidates" / f"{cid}.png") != rec.get("sha256")]
    events, torn = _events(run_dir)
    saved = Counter(e.get("id") for e in events if e.get("event") == "candidate_saved")
    report.update({
        "candidates": len(records),
        "mismatched": mismatched,  # a record whose PNG is missing or has another hash
        "duplicates": sorted(cid for cid, n in saved.items() if n > 1),  # saved (logged) more than once
        "lost_events": sorted(set(records) - set(saved)),  # on disk without its event
        "phantom_events": sorted(set(saved) - set(records)),  # an event without a candidate on disk
        "torn_lines": torn,
    })
    manifest_path = run_dir / "manifest.json"
    finished = (run_dir / "final.png").is_file()
    report["finished"] = finished
    problems = []
    if finished and manifest_path.is_file() and str(manifest_path.relative_to(run_dir)) not in report["corrupt"]:
        manifest = json.loads(manifest_path.read_text())
        listed = [c["id"] for c in manifest.get("candidates", [])]
        if sorted(listed) != sorted(records) or len(set(listed)) != len(listed):
            problems.append(f"manifest lists {len(listed)} candidates, {len(records)} on disk")
        best = (manifest.get("best") or {}).get("id")
        if best and best in records and not _same_pixels(run_dir / "final.png", run_dir / "candidates" / f"{best}.png"):
            problems.append(f"final.png is not {best}'s image")
    report["manifest"] = problems
    report["ok"] = not any(report[k] for k in ("corrupt", "stray", "mismatched", "duplicates", "lost_events",
                                                "phantom_events", "torn_lines", "manifest"))
    return report


def _same_pixels(a: Path, b: Path) -> bool:
    from PIL import Image

    try:
        with Image.open(a) as x, Image.open(b) as y:
            return x.convert("RGB").tobytes() == y.convert("RGB").tobytes()
    except Exception:  # either is corrupt: already counted, and not the same image
        return False
