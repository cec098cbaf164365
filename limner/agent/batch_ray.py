"""``limner batch --ray``: the local batch's jobs, run by a pool of Ray actors (``pip install 'limner[ray]'``).

Each worker is a long-lived process (an actor): pipelines and verifiers load once per process, so a worker keeps
them for every job it is handed. Jobs go out one at a time to whichever worker is free (agent runs vary in
length, a static split would leave workers idle). The driver alone writes ``summary.json`` and the GenEval layout.

Shared filesystem or not: a worker that sees the driver's batch folder (its ``batch.json``, with this batch's
random tag) runs its jobs in it; one that does not runs them in a folder of its own and sends each finished run
folder back as a tar, which the driver unpacks into ``runs/`` and moves into place in one rename (and an
unfinished folder the driver holds goes out with the job, so that it resumes there too).

Faults: a worker killed mid-job (SIGKILL, a lost node, out of memory) is restarted by Ray (``max_restarts``); the
driver hands the job out again, at most ``retries`` times, and it resumes from its checkpoint (shared folder) or
from the folder the driver holds. A job that raises is reported with its reason; the others run.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import tarfile
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from limner.agent.errors import UsageError

# Ray sets CUDA_VISIBLE_DEVICES and OMP_NUM_THREADS per worker itself: those are not forwarded
FORWARDED_ENV = ("LIMNER_", "HF_", "HUGGINGFACE_", "TRANSFORMERS_")
SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD")


@dataclass
class RayOptions:
    address: str | None = None  # None: RAY_ADDRESS, else a local cluster; "auto", "ray://host:10001", ...
    workers: int | None = None  # default: one per GPU of the cluster
    gpus_per_worker: float | None = None  # default: 1 where the cluster has GPUs, else 0
    retries: int = 3  # times a job is handed out again after its worker died
    shared: bool | None = None  # None: each worker looks; False: always send folders back (as across nodes)


def import_ray():
    try:
        import ray
    except ImportError:
        raise UsageError("--ray needs Ray, which is not installed: pip install 'limner[ray]'") from None
    return ray


def worker_env() -> dict:
    """What a worker on another node needs from the driver's environment (no secrets: settings carry those)."""
    return {k: v for k, v in os.environ.items()
            if k.startswith(FORWARDED_ENV) and not any(w in k.upper() for w in SECRET_WORDS)}


def pack(folder: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(folder, arcname=folder.name)
    return buf.getvalue()


def unpack(data: bytes, target: Path) -> None:
    """A run folder sent back, moved into ``target`` in one rename (a kill leaves the old one or the new one)."""
    incoming = target.parent / f".incoming-{target.name}-{secrets.token_hex(3)}"
    incoming.mkdir(parents=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
            _extract(tar, incoming)
        unpacked = incoming / target.name
        if not unpacked.is_dir():
            raise UsageError(f"a worker sent back a folder that does not hold {target.name}")
        trash = target.parent / f".old-{target.name}-{secrets.token_hex(3)}"
        if target.exists():
            target.rename(trash)
        unpacked.rename(target)
        shutil.rmtree(trash, ignore_errors=True)
    finally:
        shutil.rmtree(incoming, ignore_errors=True)


def _extract(tar: tarfile.TarFile, into: Path) -> None:
    """Only folders and plain files, each inside ``into`` (Python's "data" filter, which 3.11.2 lacks)."""
    root = into.resolve()
    for member in tar.getmembers():
        where = (into / member.name).resolve()
        if not (member.isdir() or member.isfile()) or not where.is_relative_to(root) or where == root:
            raise tarfile.TarError(f"a worker sent back an unsafe member: {member.name}")
    if hasattr(tarfile, "data_filter"):
        tar.extractall(into, filter="data")
    else:
        tar.extractall(into)  # every member checked above


def clear_leftovers(runs_dir: Path) -> None:
    """Half-unpacked folders a killed driver left (the run folder itself is whole: old or new)."""
    for p in runs_dir.glob(".incoming-*"):
        shutil.rmtree(p, ignore_errors=True)
    for p in runs_dir.glob(".old-*"):
        shutil.rmtree(p, ignore_errors=True)


class BatchWorker:
    """One worker (made a Ray actor by ``run_on_ray``); usable in plain Python too."""

    def __init__(self, run_job: Callable, settings, out: str, tag: str, shared: bool | None):
        self.run_job = run_job  # ``batch.run_job``: given, so that this module never imports the batch's
        self.settings, self.out = settings, Path(out)
        self.shared = self._sees(tag) if shared is None else (shared and self._sees(tag))
        self.local = Path(tempfile.gettempdir()) / "limner-ray" / tag / "runs"

    def _sees(self, tag: str) -> bool:
        try:
            return json.loads((self.out / "batch.json").read_text()).get("tag") == tag
        except (OSError, ValueError):
            return False

    def where(self) -> dict:
        import socket

        return {"pid": os.getpid(), "host": socket.gethostname(), "shared": self.shared,
                "threads": os.environ.get("OMP_NUM_THREADS")}

    def run(self, job, folder: bytes | None = None) -> tuple[dict, bytes | None]:
        import socket

        me = f"{socket.gethostname()}:{os.getpid()}"
        if self.shared:
            return {**self.run_job(job, self.out / "runs", self.settings), "worker": me}, None
        self.local.mkdir(parents=True, exist_ok=True)
        here = self.local / job.run_id
        if folder is not None:  # the driver's copy is the one to go on from
            unpack(folder, here)
        row = {**self.run_job(job, self.local, self.settings), "worker": me}
        try:
            return row, (pack(here) if here.is_dir() else None)
        finally:
            shutil.rmtree(here, ignore_errors=True)


def _connect(ray, options: RayOptions) -> bool:
    """Join the cluster at ``options.address`` (or RAY_ADDRESS), else start a local one; whether we started it."""
    started = not ray.is_initialized()
    if started:
        address = options.address or os.environ.get("RAY_ADDRESS") or None
        kwargs = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
        if address is None and options.workers:  # a local cluster big enough for the workers asked for
            kwargs["num_cpus"] = max(os.cpu_count() or 1, options.workers)
        try:
            ray.init(address=address, **kwargs)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise UsageError(f"could not reach the Ray cluster at {address}: {str(exc).splitlines()[0]}") from None
    return started


def _pool(ray, options: RayOptions) -> tuple[int, float]:
    gpus = ray.cluster_resources().get("GPU", 0)
    per = options.gpus_per_worker if options.gpus_per_worker is not None else (1.0 if gpus else 0.0)
    if per < 0 or (per and per > max(gpus, 1)):
        raise UsageError(f"--gpus-per-worker {per}: the cluster has {gpus:g} GPUs")
    if options.workers is not None:
        if options.workers < 1:
            raise UsageError("--workers must be at least 1")
        return options.workers, per
    if not gpus or not per:
        raise UsageError("the Ray cluster has no GPUs: give --workers N for CPU workers")
    return int(gpus // per), per


def run_on_ray(todo: list[tuple[int, object]], run_job: Callable, out: Path, tag: str, settings,
               options: RayOptions, finished: Callable[[int, dict], None], busy: Callable[[int, int], None] | None = None,
               report: dict | None = None) -> dict:
    """Run ``todo`` (``[(row index, Job), ...]``) on a pool of workers, each job by ``run_job(job, runs_dir,
    settings)`` (``batch.run_job``); ``finished(k, row)`` as each ends.
    Returns (and keeps up to date in ``report``) what the pool is: workers, GPUs each, whether each sees the
    batch folder, hosts, seconds to start, jobs handed out again."""
    ray = import_ray()
    from ray.exceptions import RayError, RayTaskError

    t0 = time.perf_counter()
    started = _connect(ray, options)
    workers: list = []
    try:
        n, per = _pool(ray, options)
        # the driver's environment (Limner's settings, the Hugging Face cache) travels with each pool
        actor = ray.remote(BatchWorker).options(num_cpus=1 if not per else 0, num_gpus=per, max_restarts=-1,
                                                max_task_retries=0, runtime_env={"env_vars": worker_env()})
        workers = [actor.remote(run_job, settings, str(out), tag, options.shared) for _ in range(n)]
        info = ray.get([w.where.remote() for w in workers])
        stats = report if report is not None else {}
        stats.clear()
        stats.update({"kind": "ray", "workers": n, "gpus_per_worker": per, "shared_fs": [i["shared"] for i in info],
                 "hosts": sorted({i["host"] for i in info}), "pids": [i["pid"] for i in info],
                 "threads": [i["threads"] for i in info], "start_seconds": round(time.perf_counter() - t0, 2),
                 "retries": 0})
        queue, attempts, running, free = deque(todo), {}, {}, deque(range(n))
        runs_dir = out / "runs"
        while queue or any(job is not None for _, _, job in running.values()):
            while queue and free:
                w = free.popleft()
                k, job = queue.popleft()
                attempts[k] = attempts.get(k, 0) + 1
                mine = runs_dir / job.run_id
                folder = pack(mine) if not info[w]["shared"] and mine.is_dir() else None
                running[workers[w].run.remote(job, folder)] = (w, k, job)
            if busy is not None:
                busy(sum(job is not None for _, _, job in running.values()), n)
            (ref,), _ = ray.wait(list(running), num_returns=1)
            w, k, job = running.pop(ref)
            if job is None:  # a probe of a worker Ray is restarting: free once it answers
                try:
                    ray.get(ref)
                    free.append(w)
                except RayError:
                    time.sleep(0.2)
                    running[workers[w].where.remote()] = (w, None, None)
                continue
            try:
                row, back = ray.get(ref)
            except RayTaskError as exc:  # the job raised: report it, run the others
                free.append(w)
                finished(k, _error_row(job, runs_dir, f"{type(exc.cause).__name__}: {exc.cause}", attempts[k]))
                continue
            except RayError as exc:  # the worker died (killed, node lost, out of memory): Ray restarts it
                running[workers[w].where.remote()] = (w, None, None)  # no job for it until it is back
                if attempts[k] > options.retries:
                    finished(k, _error_row(job, runs_dir, f"its worker died {attempts[k]} times "
                                                          f"({type(exc).__name__})", attempts[k]))
                else:
                    stats["retries"] += 1
                    queue.appendleft((k, job))
                continue
            free.append(w)
            if back is not None:
                unpack(back, runs_dir / job.run_id)
                row = _moved(row, runs_dir / job.run_id)
            finished(k, {**row, "attempts": attempts[k]})
        return stats
    except KeyboardInterrupt:  # stop the workers now; the same command resumes what they were doing
        for w in workers:
            ray.kill(w, no_restart=True)
        raise
    finally:
        if started:
            ray.shutdown()


def _error_row(job, runs_dir: Path, reason: str, attempts: int) -> dict:
    return {"index": job.index, "line": job.item.line, "sample": job.sample, "run_id": job.run_id,
            "prompt": job.fields.get("prompt"), "run_dir": str(runs_dir / job.run_id), "status": "error",
            "reason": reason.splitlines()[0], "attempts": attempts}


def _moved(row: dict, folder: Path) -> dict:
    """A row a worker wrote about its own folder, about the driver's copy."""
    final = row.get("final")
    return {**row, "run_dir": str(folder), "final": str(folder / Path(final).name) if final else None}
