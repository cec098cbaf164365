"""Schema migrations for the SQLite files Limner owns (the runs index, the LLM call log), as simonw/llm does.

Each file has a list of migrations; ``PRAGMA user_version`` records how many have run. A home written by an
earlier Limner opens with its rows intact: the missing migrations run once, in order, in one transaction each.
Changing a schema is appending one entry to its list, never editing an old one.
"""

from __future__ import annotations

import sqlite3

RUNS_INDEX = [
    # 1: the table as the first Limner made it (without a user_version: a no-op on such a home)
    "CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, dir TEXT NOT NULL, prompt TEXT, created REAL)",
    # 2: `limner show`/`resume` look runs up by time too
    "CREATE INDEX IF NOT EXISTS runs_created ON runs (created)",
]

LLM_LOG = [
    """CREATE TABLE IF NOT EXISTS llm_calls (
        id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, run_id TEXT, purpose TEXT, endpoint TEXT,
        model TEXT, request TEXT, response TEXT, error TEXT, seconds REAL, prompt_tokens INTEGER,
        completion_tokens INTEGER)""",
    # 2: the calls of one run, read by the overhead bench and by people
    "CREATE INDEX IF NOT EXISTS llm_calls_run ON llm_calls (run_id)",
]


def migrate(db: sqlite3.Connection, migrations: list[str]) -> int:
    """Run the migrations ``db`` has not had yet; returns its schema version."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > len(migrations):
        raise sqlite3.DatabaseError(f"this file's schema (version {version}) is newer than this Limner's "
                                    f"({len(migrations)}): upgrade limner")
    if version == len(migrations):
        return version
    if db.in_transaction:
        db.commit()
    # one process migrates at a time: the write lock first, then the version again (another process sharing
    # the home may have migrated while this one waited), so no statement runs twice
    db.execute("BEGIN IMMEDIATE")
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        for number, statement in enumerate(migrations[version:], start=version + 1):
            db.execute(statement)
            db.execute(f"PRAGMA user_version = {number}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return len(migrations)


MANIFEST = "limner.manifest/2"  # 2: plans carry attributes, exclusions, global parts and unplanned spans


def upgrade_manifest(manifest: dict) -> dict:
    """A manifest of an earlier schema read as the current one (in memory; the file is left as it was): its
    plans upgraded by ``limner.agent.plan.upgrade_plan``. A manifest of an unknown, newer schema is refused."""
    from limner.agent.plan import upgrade_plan

    schema = manifest.get("schema", "limner.manifest/1")
    if schema == MANIFEST:
        return manifest
    if schema != "limner.manifest/1":
        raise ValueError(f"manifest schema {schema!r} is newer than this Limner's ({MANIFEST}): upgrade limner")
    return {**manifest, "schema": MANIFEST, "plan": upgrade_plan(manifest.get("plan")),
            "plans": [upgrade_plan(p) for p in manifest.get("plans") or []]}
