"""A run killed with SIGKILL resumes from its checkpoint without regenerating saved candidates."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from helpers import policy_file


import pytest

pytestmark = pytest.mark.slow  # end to end: diffusion, subprocesses or servers



def record(cid: str) -> dict:
    """A candidate's record as a round saves it (``limner.agent.candidate.Candidate``)."""
    rnd, i = int(cid[1:3]), int(cid[-2:])
    return {"id": cid, "round": rnd, "index": i, "seed": i, "noise": {"kind": "gaussian", "seed": i},
            "strategy": "random", "action": "initial", "model": "builtin:tiny-random-sd", "family": "sd",
            "prompt": "a circle", "plan_version": 1, "nfe": 20}

def _events(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


def test_sigkill_then_resume_finishes_without_regenerating(tmp_path):
    out = tmp_path / "runs"
    policy = policy_file(tmp_path, max_rounds=5, candidates_per_round=2, generation={"steps": 30})
    cmd = [sys.executable, "-m", "limner.agent.cli", "run", "a red circle", "--seed", "3", "--out", str(out),
           "--policy", policy, "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy())
    deadline = time.time() + 240
    run_dir = None
    while time.time() < deadline:
        dirs = list(out.glob("*/candidates/r02-c01.json")) if out.exists() else []
        if dirs:
            run_dir = dirs[0].parent.parent
            break
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    assert run_dir is not None, "the run never saved a round-2 candidate"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (run_dir / "final.png").exists()
    # a run folder is self-contained: moved elsewhere, it resumes in its new place and writes nothing in the old
    old, run_dir = run_dir, tmp_path / "moved" / run_dir.name
    run_dir.parent.mkdir()
    shutil.move(old, run_dir)
    saved_before = {p.name: p.stat().st_mtime_ns for p in (run_dir / "candidates").glob("*.png")}

    resumed = subprocess.run([sys.executable, "-m", "limner.agent.cli", "resume", str(run_dir), "--json"],
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    result = json.loads(resumed.stdout)
    assert result["rounds"] == 5 and result["status"] == "best_effort"
    assert result["run_dir"] == str(run_dir) and not old.exists() and (run_dir / "final.png").is_file()

    # every candidate saved before the kill is untouched, and each candidate was generated exactly once
    after = {p.name: p.stat().st_mtime_ns for p in (run_dir / "candidates").glob("*.png")}
    assert {k: after[k] for k in saved_before} == saved_before
    saved_events = [e["id"] for e in _events(run_dir) if e["event"] == "candidate_saved"]
    assert sorted(saved_events) == sorted(set(saved_events)) and len(saved_events) == 10
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert [c["id"] for c in manifest["candidates"]] == [f"r{r:02d}-c{i:02d}" for r in range(1, 6) for i in range(2)]
    assert manifest["budgets"]["spent"]["nfe"] == 10 * 30 * 2

    again = subprocess.run([sys.executable, "-m", "limner.agent.cli", "resume", str(run_dir), "--json"],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and json.loads(again.stdout)["best_id"] == result["best_id"]


_KILL_AFTER_WRITES = """
import os, sys
from langgraph.checkpoint.sqlite import SqliteSaver
put_writes = SqliteSaver.put_writes
def killed_after(self, config, writes, task_id, task_path=""):
    put_writes(self, config, writes, task_id, task_path)
    if ("round", 2) in [(channel, value) for channel, value in writes]:  # round 2's node wrote its update
        os._exit(9)  # the kill: after the node's writes were saved, before the step's checkpoint
SqliteSaver.put_writes = killed_after
from limner.agent.cli import main
sys.argv = ["limner", *sys.argv[1:]]
main()
"""


def test_a_kill_between_a_node_s_writes_and_its_checkpoint_resumes_to_the_end(tmp_path):
    """LangGraph saves a finished node's writes before the step's checkpoint; a kill between the two leaves a
    checkpoint whose ``next`` is empty although the run is not over. The resume must go on, not report it."""
    out = tmp_path / "runs"
    policy = policy_file(tmp_path, max_rounds=4, candidates_per_round=1)
    killed = subprocess.run([sys.executable, "-c", _KILL_AFTER_WRITES, "run", "a red circle", "--seed", "3",
                             "--out", str(out), "--policy", policy, "--quiet"], capture_output=True, text=True,
                            timeout=300)
    assert killed.returncode == 9, killed.stderr
    run_dir = next(out.iterdir())
    assert (run_dir / "candidates" / "r02-c00.png").is_file() and not (run_dir / "final.png").exists()
    resumed = subprocess.run([sys.executable, "-m", "limner.agent.cli", "resume", str(run_dir), "--json"],
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    result = json.loads(resumed.stdout)
    assert (result["status"], result["rounds"]) == ("best_effort", 4), result
    saved_events = [e["id"] for e in _events(run_dir) if e["event"] == "candidate_saved"]
    assert sorted(saved_events) == [f"r{r:02d}-c00" for r in range(1, 5)]  # none made twice


def test_a_candidate_saved_without_its_event_gets_exactly_one_on_reuse(tmp_path):
    """A kill between a candidate's record and its event: the run that reuses the candidate logs it once."""
    from limner.agent._run.store import RunStore

    store = RunStore(tmp_path)
    store.save_candidate(record("r01-c00"), b"png-0")
    log = tmp_path / "events.jsonl"
    log.write_text(log.read_text() + '{"ts": 1, "event": "candidate_sa')  # the kill: a record, a torn event line
    store.save_candidate(record("r01-c01"), b"png-1")
    (tmp_path / "events.jsonl").write_text(log.read_text().rsplit("\n", 2)[0] + "\n")  # r01-c01's event lost

    reopened = RunStore(tmp_path)
    assert reopened.saved_candidate("r01-c01")["id"] == "r01-c01"
    assert reopened.saved_candidate("r01-c01") and reopened.saved_candidate("r01-c00")
    assert RunStore(tmp_path).saved_candidate("r01-c01")
    saved = [e["id"] for e in RunStore(tmp_path).events() if e["event"] == "candidate_saved"]
    assert sorted(saved) == ["r01-c00", "r01-c01"]
    assert [e.get("recovered") for e in RunStore(tmp_path).events() if e["id"] == "r01-c01"] == [True]


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_checkpoint_is_one_line_naming_the_file_and_leaves_the_rest(tmp_path, damage):
    out = tmp_path / "runs"
    policy = policy_file(tmp_path, max_rounds=1, candidates_per_round=1, generation={"steps": 4})
    done = subprocess.run([sys.executable, "-m", "limner.agent.cli", "run", "a red circle", "--out", str(out),
                           "--policy", policy, "--json"], capture_output=True, text=True, timeout=300)
    run_dir = Path(json.loads(done.stdout)["run_dir"])
    checkpoint = run_dir / "checkpoint.sqlite"
    for extra in ("-wal", "-shm"):
        Path(str(checkpoint) + extra).unlink(missing_ok=True)
    data = checkpoint.read_bytes()
    checkpoint.write_bytes(b"not a database" * 100 if damage == "garbage" else data[:2000])
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    resumed = subprocess.run([sys.executable, "-m", "limner.agent.cli", "resume", str(run_dir)],
                             capture_output=True, text=True, timeout=120)
    lines = [ln for ln in resumed.stderr.splitlines() if ln.strip()]
    assert resumed.returncode == 2 and len(lines) == 1 and "Traceback" not in resumed.stderr, resumed.stderr
    assert str(checkpoint) in lines[0] and "is damaged" in lines[0] and "1 saved candidates" in lines[0]
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before  # nothing else touched


def test_a_candidate_made_again_after_a_kill_is_logged_once(tmp_path):
    """Strategies other than random redo a round a kill left unmarked: the same candidate is saved again, and
    its ``candidate_saved`` event must not be doubled (the reliability bench's 'saved twice' column)."""
    from limner.agent._run.store import RunStore

    RunStore(tmp_path).save_candidate(record("r02-c00"), b"png-0")
    RunStore(tmp_path).save_candidate(record("r02-c00"), b"png-0")  # the resumed process redoes the round
    RunStore(tmp_path).save_candidate(record("r02-c01"), b"png-1")
    saved = [e["id"] for e in RunStore(tmp_path).events() if e["event"] == "candidate_saved"]
    assert saved == ["r02-c00", "r02-c01"]
