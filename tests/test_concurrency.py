"""Several Limner processes sharing one home: the runs index and the LLM call log under write contention, and
migrations that two processes start at once."""

import multiprocessing as mp
import sqlite3
from pathlib import Path


def _writer(home: str, k: int, n: int) -> None:
    import os

    os.environ["LIMNER_HOME"] = home
    from limner.agent._run.store import register_run
    from limner.agent.llm.log import CallLog

    log = CallLog(Path(home) / "logs.sqlite")
    for i in range(n):
        register_run(f"run-{k}-{i}", Path(home) / f"runs/run-{k}-{i}", f"prompt {k} {i}")
        log.record(run_id=f"run-{k}-{i}", purpose="plan", endpoint="http://127.0.0.1/v1", model="m",
                   messages=[{"role": "user", "content": "x" * 2000}], response="{}", error=None, seconds=0.01)


def test_processes_sharing_a_home_all_write_the_index_and_the_log(tmp_path):
    home, procs, n = str(tmp_path / "home"), 6, 25
    ctx = mp.get_context("spawn")
    workers = [ctx.Process(target=_writer, args=(home, k, n)) for k in range(procs)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0] * procs
    with sqlite3.connect(Path(home) / "runs.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == procs * n
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with sqlite3.connect(Path(home) / "logs.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM llm_calls").fetchone()[0] == procs * n
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


STEPS = ["CREATE TABLE t (a INTEGER)", "ALTER TABLE t ADD COLUMN b INTEGER"]  # neither may run twice


def _migrator(path: str, start) -> None:
    from limner.agent._run.migrations import migrate

    start.wait()
    db = sqlite3.connect(path, timeout=30)
    migrate(db, STEPS)
    db.close()


def test_processes_migrating_one_file_at_once_run_each_step_once(tmp_path):
    path = str(tmp_path / "x.sqlite")
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    workers = [ctx.Process(target=_migrator, args=(path, start)) for _ in range(6)]
    for w in workers:
        w.start()
    start.set()
    for w in workers:
        w.join(60)
    assert [w.exitcode for w in workers] == [0] * 6  # none failed on "table t already exists"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2
        assert [r[1] for r in db.execute("PRAGMA table_info(t)")] == ["a", "b"]


def test_a_second_batch_on_the_same_folder_is_refused_in_one_line_while_the_first_runs(tmp_path):
    import json

    import pytest

    from limner.agent.batch import batch_lock, run_batch
    from limner.agent.errors import UsageError

    briefs = tmp_path / "briefs.jsonl"
    briefs.write_text(json.dumps({"prompt": "a red circle"}) + "\n")
    out = tmp_path / "out"
    out.mkdir()
    ctx = mp.get_context("spawn")
    held, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(str(out), held, release))
    holder.start()
    try:
        assert held.wait(60)
        with pytest.raises(UsageError, match=r"in use by another limner batch \(pid \d+\)"):
            run_batch(briefs, out)
        assert not (out / "summary.json").exists()  # the refused batch wrote nothing
    finally:
        holder.kill()  # SIGKILL: the kernel drops the lock with the process
        holder.join(60)
    with batch_lock(out):  # free again: the same command would resume the batch
        pass


def _hold(out: str, held, release) -> None:
    from limner.agent.batch import batch_lock

    with batch_lock(Path(out)):
        held.set()
        release.wait(60)
