"""``limner batch --ray``: a real local Ray cluster (one for the whole module), CPU workers, the embedded model."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from limner.agent.batch import run_batch
from helpers import policy_file

pytestmark = [pytest.mark.slow, pytest.mark.serial]  # a Ray cluster takes every core: it runs alone

ray = pytest.importorskip("ray", reason="Ray is the `ray` extra (CI installs it with the test extra)")
from limner.agent.batch_ray import RayOptions  # noqa: E402

SUITE = Path(__file__).resolve().parents[1] / "limner" / "tools" / "shapes" / "data" / "shapes_eval.jsonl"


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def _briefs(tmp_path, n: int, bad_at: int | None = None) -> Path:
    lines = SUITE.read_text().splitlines()[:n]
    if bad_at is not None:
        lines.insert(bad_at, '{"prompt": "a red circle", "candidates": "many"}')
    path = tmp_path / "briefs.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def _policy(tmp_path, steps: int = 4) -> str:
    return policy_file(tmp_path, max_rounds=1, candidates_per_round=1, verifiers=[{"name": "questions"}],
                       actions=["random"], generation={"steps": steps})


def _finals(out: Path) -> dict:
    return {p.parent.name: p.read_bytes() for p in (out / "runs").glob("*/final.png")}


def _exactly_once(summary: dict, out: Path, n: int) -> None:
    rows = summary["jobs"]
    assert len(rows) == n and len({r["run_id"] for r in rows}) == n
    assert all(r["status"] in {"passed", "best_effort"} for r in rows), [r for r in rows if r["status"] == "error"]
    assert sorted(p.name for p in (out / "runs").iterdir()) == sorted(r["run_id"] for r in rows)
    for r in rows:  # one round of one candidate: nothing generated twice
        assert sorted(p.name for p in (out / "runs" / r["run_id"] / "candidates").glob("*.png")) == ["r01-c00.png"]


def test_ray_finals_are_byte_identical_to_the_local_runner_s_with_a_bad_brief_reported(
        tmp_path, shapes_defaults, cluster):
    """8 good briefs and a bad one, on 2 workers that see the batch folder and on 2 that send folders back."""
    import torch

    source = _briefs(tmp_path, 8, bad_at=3)
    policy = _policy(tmp_path)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as Ray's CPU workers run (OMP_NUM_THREADS=1): float sums depend on threads
    try:
        local = run_batch(source, tmp_path / "local", overrides={"policy": policy})
    finally:
        torch.set_num_threads(threads)
    assert local["runner"] == {"kind": "local"} and local["bad_briefs"][0]["line"] == 4
    expected = _finals(tmp_path / "local")
    assert len(expected) == 8
    for shared in (None, False):
        out = tmp_path / f"ray-{shared}"
        out.mkdir()
        (out / "batch.json").write_bytes((tmp_path / "local" / "batch.json").read_bytes())  # the same run ids
        busy = []
        summary = run_batch(source, out, overrides={"policy": policy}, ray=RayOptions(workers=2, shared=shared),
                            on_busy=lambda b, n: busy.append((b, n)))
        assert summary["runner"]["kind"] == "ray" and summary["runner"]["workers"] == 2
        assert summary["runner"]["shared_fs"] == [shared is None] * 2 and summary["runner"]["retries"] == 0
        assert (2, 2) in busy  # both workers had a job at once
        assert summary["bad_briefs"] == local["bad_briefs"]
        _exactly_once(summary, out, 8)
        assert _finals(out) == expected
        assert not list((out / "runs").glob(".*"))  # nothing half-unpacked left behind
        rows = {r["run_id"]: r for r in summary["jobs"]}
        assert all(Path(r["final"]).parent == out / "runs" / k for k, r in rows.items())
        assert len({r["worker"] for r in rows.values()}) == 2 and all(r["attempts"] == 1 for r in rows.values())


def test_a_worker_killed_mid_batch_loses_and_duplicates_no_brief(tmp_path, shapes_defaults, cluster):
    source = _briefs(tmp_path, 8)
    out = tmp_path / "out"
    report, result = {}, {}
    options = RayOptions(workers=2)

    def batch():
        result["summary"] = run_batch(source, out, overrides={"policy": _policy(tmp_path, steps=20)}, ray=options)

    # the pool's workers (their pids) are in the summary's "runner" from the first finished job on
    thread = threading.Thread(target=batch)
    thread.start()
    deadline, killed = time.time() + 240, None
    while time.time() < deadline and thread.is_alive() and killed is None:
        summary = json.loads((out / "summary.json").read_text()) if (out / "summary.json").is_file() else {}
        report = summary.get("runner") or {}
        done = sum(r["status"] != "pending" for r in summary.get("jobs", []))
        if report.get("pids") and done >= 2:
            killed = report["pids"][0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.05)
    thread.join(300)
    assert killed is not None, "the batch ended before a worker could be killed"
    summary = result["summary"]
    _exactly_once(summary, out, 8)
    # the killed worker's job went out once more (to a worker Ray had restarted, or the other): one retry
    assert summary["runner"]["retries"] == 1
    assert sorted(r["attempts"] for r in summary["jobs"]) == [1] * 7 + [2]
    assert json.loads((out / "summary.json").read_text())["totals"]["jobs"] == 8


def test_ctrl_c_stops_the_workers_and_the_same_command_resumes(tmp_path, shapes_defaults, cluster):
    source = _briefs(tmp_path, 6)
    out = tmp_path / "out"
    policy = _policy(tmp_path, steps=12)
    cmd = [sys.executable, "-m", "limner.agent.cli", "batch", str(source), "--out", str(out), "--policy",
           policy, "--ray", "--ray-address", cluster, "--workers", "2", "--json"]
    # a terminal's Ctrl-C must reach the batch even when this process was started with SIGINT ignored (a background
    # job of a script, as CI may start it): ignored signals are inherited, and Python then never raises on one
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        summary = json.loads((out / "summary.json").read_text()) if (out / "summary.json").is_file() else {}
        if sum(r["status"] != "pending" for r in summary.get("jobs", [])) >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, ("the batch ended before Ctrl-C", proc.communicate()[1][-3000:])
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "the same command resumes the batch" in err and "Traceback" not in err
    before = json.loads((out / "summary.json").read_text())
    assert 2 <= sum(r["status"] != "pending" for r in before["jobs"]) < 6
    # the same batch again (in this process, on the same cluster): finished jobs read back, the rest resumed
    again = run_batch(source, out, overrides={"policy": policy}, ray=RayOptions(workers=2))
    _exactly_once(again, out, 6)
    assert {r["run_id"] for r in before["jobs"]} == {r["run_id"] for r in again["jobs"]}


def test_ray_without_the_extra_is_one_line_and_exit_2(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from limner.agent.cli import app

    source = _briefs(tmp_path, 2)
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed: `import ray` raises ImportError
    result = CliRunner().invoke(app, ["batch", str(source), "--out", str(tmp_path / "out"), "--ray"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: --ray needs Ray, which is not installed: pip install 'limner[ray]'"
    assert not (tmp_path / "out").exists()
    result = CliRunner().invoke(app, ["batch", str(source), "--out", str(tmp_path / "out"), "--workers", "2"])
    assert result.exit_code == 2 and "add --ray" in result.output and not (tmp_path / "out").exists()
