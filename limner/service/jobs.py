"""The service's durable job queue and its one generation worker.

A job is a run the service was asked for. Its record (``jobs/<id>.json``, written atomically) holds the request,
its status and what to do next (``next``: start, resume after a restart, or answer a chat turn); its events
(``jobs/<id>.events.jsonl``) are numbered lines, the ids Server-Sent Events resume from. The job id is the run
id, so the run's folder is ``<out>/<id>``.

One worker thread runs jobs one at a time, oldest first: diffusers pipelines are not safe to call from two threads
(diffusers #3672), and one device does one thing at a time anyway. HTTP handlers only write records and read them.
A job the service was killed in is taken up again when it starts: resumed from the run's checkpoint, or started
again when the kill came before the first checkpoint (its folder then holds nothing that was made).
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from limner.agent._run.store import atomic_write_json

log = logging.getLogger("limner.service")

ENDED = {"passed", "best_effort", "unverified", "failed", "cancelled"}  # a job in one of these is over
RESTING = ENDED | {"waiting"}  # nothing runs: over, or a chat waiting for the person's next message


class JobStore:
    """Job records and their event logs under ``<service_dir>/jobs``; safe to use from any thread."""

    def __init__(self, service_dir: Path):
        self.dir = service_dir / "jobs"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self._counts: dict[str, int] = {}  # events per job, counted once per process
        self._seen: dict[str, set] = {}  # candidate ids a job's log announced (a resumed round is not news)
        self.listeners: dict[str, set] = {}  # job id -> callables ``poke(kind)``, kind "record" or "event"

    # --- records ---------------------------------------------------------------------------------------
    def path(self, job_id: str) -> Path:
        return self.dir / f"{job_id}.json"

    def get(self, job_id: str) -> dict | None:
        """The record; under the lock, so a reader who saw an event logged together with a record change (a
        job's end) never finds the record from before it."""
        with self.lock:
            try:
                return json.loads(self.path(job_id).read_text())
            except (OSError, ValueError):
                return None

    def _changed(self, job_id: str, kind: str) -> None:
        self.changed.notify_all()
        for poke in list(self.listeners.get(job_id, ())):
            poke(kind)

    def put(self, job: dict) -> None:
        with self.lock:
            atomic_write_json(self.path(job["id"]), job)
            self._changed(job["id"], "record")

    def update(self, job_id: str, **fields) -> dict:
        with self.lock:
            job = {**self.get(job_id), **fields}
            self.put(job)
            return job

    def create(self, job_id: str, request: dict, interactive: bool = False) -> dict:
        job = {"id": job_id, "status": "queued", "created": time.time(), "started": None, "finished": None,
               "request": request, "interactive": interactive, "next": {"kind": "start"}, "result": None,
               "error": None, "cancel": False}
        with self.lock:
            self.put(job)
            self.append(job_id, {"event": "queued"})
        return job

    def all(self) -> list[dict]:
        jobs = []
        for p in self.dir.glob("*.json"):
            job = self.get(p.stem)
            if job is not None:
                jobs.append(job)
        return sorted(jobs, key=lambda j: (j["created"], j["id"]))

    def next_queued(self) -> dict | None:
        with self.lock:
            return next((j for j in self.all() if j["status"] == "queued"), None)

    # --- events ----------------------------------------------------------------------------------------
    def events_path(self, job_id: str) -> Path:
        return self.dir / f"{job_id}.events.jsonl"

    def _count(self, job_id: str) -> int:
        if job_id not in self._counts:
            events = self.events(job_id)
            self._counts[job_id] = events[-1]["id"] if events else 0
            self._seen[job_id] = ({e.get("id_") for e in events if e.get("event") == "candidate"}
                                  | {"ended" for e in events if e.get("event") == "ended"})
            self._repair_tail(job_id)
        return self._counts[job_id]

    def _repair_tail(self, job_id: str) -> None:
        """A kill mid-line leaves a torn last line: end it, so the next event starts a line of its own."""
        path = self.events_path(job_id)
        if path.is_file() and path.stat().st_size:
            with path.open("rb+") as f:
                f.seek(-1, 2)
                if f.read(1) != b"\n":
                    f.write(b"\n")

    def append(self, job_id: str, event: dict) -> dict | None:
        """Number ``event`` and add it to the job's log; a candidate announced before (a round a restart
        reused) is not announced again. Returns the event as logged, or None."""
        with self.lock:
            n = self._count(job_id)
            if event.get("event") == "candidate":
                if event.get("id") in self._seen[job_id]:
                    return None
                self._seen[job_id].add(event.get("id"))
            if event.get("event") == "ended":  # a job ends once, even when a kill came between its end and its record
                if "ended" in self._seen[job_id]:
                    return None
                self._seen[job_id].add("ended")
            # the event's own "id" (a candidate's) would clash with the SSE id: it travels as "id_"
            body = {("id_" if k == "id" else k): v for k, v in event.items()}
            logged = {"id": n + 1, "time": round(time.time(), 3), **body}
            with self.events_path(job_id).open("a", encoding="utf-8") as f:
                f.write(json.dumps(logged, default=str) + "\n")
            self._counts[job_id] = n + 1
            self._changed(job_id, "event")
            return logged

    def events(self, job_id: str, after: int = 0) -> list[dict]:
        path = self.events_path(job_id)
        out = []
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError:
            return out
        for line in lines:
            try:
                e = json.loads(line)
            except ValueError:  # a line a kill tore: never complete, never sent
                continue
            if e.get("id", 0) > after:
                out.append(e)
        return out

    # --- restart ---------------------------------------------------------------------------------------
    def recover(self, out: Path) -> list[str]:
        """After a restart: every job that was running is queued again, to resume from its run's checkpoint, or
        to start again when it has none (its half-made folder removed: nothing in it was made yet)."""
        from limner.agent._run.store import RunStore

        taken = []
        with self.lock:
            for job in self.all():
                if job["status"] != "running":
                    continue
                store = RunStore(out / job["id"])
                if store.latest_checkpoint() is not None:
                    nxt = {"kind": "resume"} if job["next"]["kind"] == "start" else job["next"]
                else:
                    if store.dir.exists() and job["next"]["kind"] == "start":
                        shutil.rmtree(store.dir)
                    nxt = job["next"]
                self.update(job["id"], status="queued", next=nxt)
                self.append(job["id"], {"event": "requeued", "reason": "the service restarted while it ran"})
                taken.append(job["id"])
        return taken


@dataclass
class Worker:
    """The one thread that runs jobs. ``execute(job, on_event, cancelled) -> result dict`` does the work (the
    service's ``Runs.execute``); ``calls`` holds other work for the same thread (MCP tool calls)."""

    store: JobStore
    execute: Callable
    thread: threading.Thread | None = None
    stopping: threading.Event = field(default_factory=threading.Event)
    current: str | None = None
    _calls: list = field(default_factory=list)

    def start(self) -> None:
        self.thread = threading.Thread(target=self._loop, name="limner-worker", daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        with self.store.lock:
            self.store.changed.notify_all()
        if self.thread is not None:
            self.thread.join(timeout)

    def call(self, fn: Callable):
        """Run ``fn()`` on the worker thread between jobs and return its result (blocks the calling thread)."""
        done = threading.Event()
        box: dict = {}
        with self.store.lock:
            self._calls.append((fn, box, done))
            self.store.changed.notify_all()
        done.wait()
        if "error" in box:
            raise box["error"]
        return box["value"]

    def _loop(self) -> None:
        while not self.stopping.is_set():
            with self.store.lock:
                call = self._calls.pop(0) if self._calls else None
                job = None if call else self.store.next_queued()
                if call is None and job is None:
                    self.store.changed.wait(timeout=1.0)
                    continue
            if call is not None:
                fn, box, done = call
                try:
                    box["value"] = fn()
                except BaseException as exc:  # handed back to the caller  # noqa: BLE001
                    box["error"] = exc
                done.set()
                continue
            self._run(job)

    def _run(self, job: dict) -> None:
        jid = job["id"]
        self.current = jid
        self.store.update(jid, status="running", started=job["started"] or time.time())
        self.store.append(jid, {"event": "started", "next": job["next"]["kind"]})

        def cancelled() -> bool:
            return bool((self.store.get(jid) or {}).get("cancel"))

        try:
            result = self.execute(job, lambda e: self.store.append(jid, e), cancelled)
            status, error = result["status"], None
        except Exception as exc:  # the job fails, the worker lives on  # noqa: BLE001
            log.exception("job %s failed", jid)
            status, error, result = "failed", _one_line(exc), None
        fields = {"status": status, "result": result, "error": error, "next": {"kind": "none"}}
        if status in ENDED:
            fields["finished"] = time.time()
        with self.store.lock:  # the event first: whoever sees the job resting finds its last event logged
            self.store.append(jid, {"event": "ended" if status in ENDED else status, "status": status,
                                    **({"error": error} if error else {}),
                                    "stop_reason": (result or {}).get("stop_reason")})
            self.store.update(jid, **fields)
        self.current = None


def _one_line(exc: BaseException) -> str:
    from limner.agent.errors import LimnerError

    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if isinstance(exc, LimnerError) else f"{type(exc).__name__}: {text}"
