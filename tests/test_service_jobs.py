"""The service's job queue on its own: numbered events that survive a torn line, a job that ends once, a candidate
announced once, and a restart that takes up what was running."""

from __future__ import annotations

import pytest

from limner.service.config import ServiceConfig
from limner.service.jobs import JobStore


def test_events_are_numbered_and_a_torn_last_line_is_skipped_then_closed(tmp_path):
    store = JobStore(tmp_path)
    store.create("j1", {"prompt": "x"})
    store.append("j1", {"event": "started"})
    with store.events_path("j1").open("a") as f:
        f.write('{"id": 3, "event": "ste')  # a kill mid-line
    assert [e["event"] for e in store.events("j1")] == ["queued", "started"]
    fresh = JobStore(tmp_path)  # a restarted service
    fresh.append("j1", {"event": "step", "step": 1})
    assert [(e["id"], e["event"]) for e in fresh.events("j1")] == [(1, "queued"), (2, "started"), (3, "step")]
    assert [e["id"] for e in fresh.events("j1", after=2)] == [3]


def test_a_job_ends_once_and_a_candidate_is_announced_once_even_across_restarts(tmp_path):
    store = JobStore(tmp_path)
    store.create("j1", {"prompt": "x"})
    assert store.append("j1", {"event": "candidate", "id": "r01-c00", "score": 0.5})["id_"] == "r01-c00"
    assert store.append("j1", {"event": "candidate", "id": "r01-c00", "score": 0.5}) is None
    store.append("j1", {"event": "ended", "status": "passed"})
    again = JobStore(tmp_path)
    assert again.append("j1", {"event": "candidate", "id": "r01-c00", "score": 0.5}) is None
    assert again.append("j1", {"event": "ended", "status": "passed"}) is None
    assert [e["event"] for e in again.events("j1")] == ["queued", "candidate", "ended"]


def test_whoever_sees_a_job_end_in_its_log_reads_it_ended_in_its_record(tmp_path):
    """The worker logs the end and updates the record under one lock; a reader woken by the event in between
    (the studio refreshing on 'ended') waits for the record instead of reading the old one."""
    import threading
    import time

    from limner.service.jobs import Worker

    store = JobStore(tmp_path)
    store.create("r1", {"prompt": "a red circle"})
    seen: dict = {}
    put = store.put

    def slow_put(job):  # the record's write takes a while, the end already logged
        if job["status"] == "passed":
            threading.Thread(target=lambda: seen.update(record=store.get("r1")), daemon=True).start()
            time.sleep(0.3)
        put(job)

    store.put = slow_put
    worker = Worker(store, lambda job, on_event, cancelled: {"status": "passed", "stop_reason": "passed"})
    worker._run(store.get("r1"))
    for _ in range(50):
        if "record" in seen:
            break
        time.sleep(0.05)
    assert store.events("r1")[-1]["event"] == "ended"
    assert seen["record"]["status"] == "passed"


def test_a_restart_queues_what_was_running_to_resume_or_start_again(tmp_path):
    store = JobStore(tmp_path / "svc")
    store.create("fresh", {"prompt": "x"})
    store.create("half", {"prompt": "x"})
    store.update("fresh", status="running")
    store.update("half", status="running")
    (tmp_path / "runs" / "half").mkdir(parents=True)  # killed before its first checkpoint
    (tmp_path / "runs" / "half" / "input.png").write_bytes(b"x")
    assert sorted(store.recover(tmp_path / "runs")) == ["fresh", "half"]
    assert store.get("half")["status"] == "queued" and store.get("half")["next"] == {"kind": "start"}
    assert not (tmp_path / "runs" / "half").exists()  # nothing in it was made: started again from nothing
    assert store.next_queued()["id"] == "fresh"  # oldest first
    assert [e["event"] for e in store.events("half")] == ["queued", "requeued"]


@pytest.mark.parametrize("host,key,refused", [("127.0.0.1", None, False), ("localhost", None, False),
                                              ("::1", None, False), ("0.0.0.0", None, True),
                                              ("192.168.1.5", None, True), ("0.0.0.0", "s3cr3t-value", False)])
def test_only_loopback_may_go_without_a_key(host, key, refused):
    config = ServiceConfig(host=host, api_key=key)
    assert (config.refusal() is not None) == refused
    if refused:
        assert "--api-key" in config.refusal()
    assert "s3cr3t-value" not in repr(config) + config.model_dump_json()  # a secret: never printed or written


def _result(status: str, reason: str):
    from limner.agent.runner import RunResult

    return RunResult(run_id="j", run_dir="/x", status=status, stop_reason=reason, final_path=None, best_id=None,
                     score=None, manifest_path="/x/manifest.json", rounds=1, nfe=0, llm_calls=0, seconds=0.0)


@pytest.mark.parametrize("second,says", [("passed", None), ("failed", "--offload sequential")])
def test_a_job_out_of_memory_is_retried_once_from_its_checkpoint_with_offload(tmp_path, monkeypatch, second, says):
    from limner.agent import runner
    from limner.service.runs import Runs
    from limner.tools.generators import diffusers_backend

    seen = []
    oom = "OutOfMemory: one candidate does not fit in the accelerator's memory"
    monkeypatch.setattr(runner, "run", lambda **kw: seen.append(("run", diffusers_backend.describe_cache()["offload"]))
                        or _result("failed", oom))
    monkeypatch.setattr(runner, "resume", lambda *a, **kw: seen.append(
        ("resume", diffusers_backend.describe_cache()["offload"])) or _result(second, oom if second == "failed" else "ok"))
    runs = Runs(ServiceConfig(out=tmp_path / "runs"))
    events = []
    job = runs.jobs.create("j", {"prompt": "a red circle"})
    result = runs.execute(job, events.append, lambda: False)
    assert seen == [("run", None), ("resume", "model")]  # once more, from the checkpoint, offloaded
    assert diffusers_backend.describe_cache()["offload"] is None  # and the setting is put back
    assert result["status"] == second and any("retrying once" in e["text"] for e in events)
    if says:
        assert says in result["stop_reason"]
