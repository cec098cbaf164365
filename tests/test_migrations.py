"""The SQLite files Limner owns migrate forward: a home written by the previous schema keeps its rows."""

import sqlite3

import pytest

OLD_RUNS = "CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, dir TEXT NOT NULL, prompt TEXT, created REAL)"
OLD_LOG = """CREATE TABLE IF NOT EXISTS llm_calls (id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, run_id TEXT,
    purpose TEXT, endpoint TEXT, model TEXT, request TEXT, response TEXT, error TEXT, seconds REAL,
    prompt_tokens INTEGER, completion_tokens INTEGER)"""


def _indexes(path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")}


def _version(path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("PRAGMA user_version").fetchone()[0]


def test_a_home_written_by_the_previous_schema_opens_with_its_rows(limner_home, tmp_path, monkeypatch):
    from limner.agent._run.migrations import LLM_LOG, RUNS_INDEX
    from limner.agent.llm.log import CallLog
    from limner.agent._run.store import find_run, register_run

    home = tmp_path / "old-home"
    home.mkdir()
    monkeypatch.setenv("LIMNER_HOME", str(home))
    run_dir = tmp_path / "runs" / "old-run"
    run_dir.mkdir(parents=True)
    (run_dir / "manifest.json").write_text("{}")
    with sqlite3.connect(home / "runs.sqlite") as db:  # as the first Limner wrote them: no user_version
        db.execute(OLD_RUNS)
        db.execute("INSERT INTO runs VALUES (?,?,?,?)", ("old-run", str(run_dir), "a cat", 1.0))
    with sqlite3.connect(home / "logs.sqlite") as db:
        db.execute(OLD_LOG)
        db.execute("INSERT INTO llm_calls (ts, purpose) VALUES (1.0, 'plan')")

    assert find_run("old-run").dir == run_dir  # the old row, found through the migrated index
    register_run("new-run", run_dir, "a dog")
    assert _version(home / "runs.sqlite") == len(RUNS_INDEX) and "runs_created" in _indexes(home / "runs.sqlite")
    CallLog(home / "logs.sqlite").record(run_id="r", purpose="vqa", endpoint="e", model="m", messages=[],
                                         response="yes", error=None, seconds=0.1)
    with sqlite3.connect(home / "logs.sqlite") as db:
        assert [r[0] for r in db.execute("SELECT purpose FROM llm_calls ORDER BY id")] == ["plan", "vqa"]
    assert _version(home / "logs.sqlite") == len(LLM_LOG) and "llm_calls_run" in _indexes(home / "logs.sqlite")


def test_a_file_from_a_newer_limner_is_refused_not_damaged(tmp_path):
    from limner.agent._run.migrations import RUNS_INDEX, migrate

    path = tmp_path / "runs.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {len(RUNS_INDEX) + 1}")
    with sqlite3.connect(path) as db, pytest.raises(sqlite3.DatabaseError, match="newer than this Limner's"):
        migrate(db, RUNS_INDEX)
    assert _version(path) == len(RUNS_INDEX) + 1
