"""Batch briefs: many runs from one file, resumable after any kill, with a summary and GenEval's folder layout.

Input: JSONL (one brief per line), YAML (a list of briefs, or ``{defaults: {...}, briefs: [...]}``), or GenEval's
``evaluation_metadata.jsonl`` as it is (``tag``/``include``/``exclude`` are kept as the brief's metadata).

Every job (a brief, times ``samples``) has a fixed run id and folder, ``<out>/runs/<tag>-<brief>[-<sample>]``,
so a re-run of the same command finds its work: a finished run is read back, an unfinished one resumes from
its checkpoint, a folder killed before its first checkpoint (nothing in it yet) is started again. Nothing is
generated twice and every output is written atomically.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from limner.agent.errors import UsageError

GENEVAL_KEYS = ("tag", "include", "exclude")
DONE = {"passed", "best_effort", "unverified", "failed"}


@dataclass
class Item:
    line: int  # line (JSONL) or line of the item (YAML) in the file, from 1
    fields: dict = field(default_factory=dict)  # Brief fields
    metadata: dict | None = None  # GenEval metadata, when the line is one
    error: str | None = None


def _split(obj, line: int, defaults: dict) -> Item:
    if not isinstance(obj, dict):
        return Item(line, error=f"a brief is an object with at least a prompt, got {type(obj).__name__}")
    fields = {**defaults, **{k: v for k, v in obj.items() if k not in GENEVAL_KEYS}}
    metadata = dict(obj) if any(k in obj for k in GENEVAL_KEYS) else None
    return Item(line, fields, metadata)


def read_briefs(path: Path) -> list[Item]:
    """Every brief in the file, with its line; unreadable ones carry their error instead of failing the file."""
    import yaml

    if not path.is_file():
        raise UsageError(f"brief file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 text (byte {exc.start}): briefs are JSONL or YAML") from None
    items: list[Item] = []
    if path.suffix.lower() in {".yaml", ".yml"}:
        try:
            root = yaml.compose(text)
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise UsageError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
        defaults, node = {}, root
        if isinstance(data, dict):
            defaults, data = data.get("defaults") or {}, data.get("briefs")
            node = next((v for k, v in root.value if k.value == "briefs"), None)
        if not isinstance(data, list):
            raise UsageError(f"{path}: expected a list of briefs, or 'briefs:' with a list")
        for obj, sub in zip(data, node.value):
            items.append(_split(obj, sub.start_mark.line + 1, defaults))
    else:
        for n, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as exc:
                items.append(Item(n, error=f"not valid JSON ({exc.msg} at column {exc.colno})"))
                continue
            items.append(_split(obj, n, {}))
    if not items:
        raise UsageError(f"{path} holds no briefs")
    return items


@dataclass
class Job:
    index: int  # brief index in the file (0-based, bad briefs included)
    sample: int
    run_id: str
    fields: dict
    item: Item


def _state(out: Path, source: Path) -> dict:
    """``<out>/batch.json``: the batch's tag (part of every run id) and where its briefs came from."""
    from limner.agent._run.store import atomic_write_json

    path = out / "batch.json"
    if path.is_file():
        state = json.loads(path.read_text())
        if state["source"] != str(source.resolve()):
            raise UsageError(f"{out} holds a batch from {state['source']}: use another --out for {source}")
        return state
    state = {"tag": "b" + secrets.token_hex(3), "source": str(source.resolve()), "created": time.time()}
    atomic_write_json(path, state)
    return state


def _resolve_paths(fields: dict, base: Path) -> dict:
    out = dict(fields)
    for key in ("image", "mask"):
        if out.get(key) and not Path(out[key]).expanduser().is_absolute():
            out[key] = str(base / out[key])
    return out


def plan_jobs(items: list[Item], out: Path, source: Path, samples: int, seed: int, overrides: dict,
              settings) -> tuple[list[Job], list[dict]]:
    """Validate every brief before anything runs: the jobs to run and the bad briefs (line and reason)."""
    from limner.agent.runner import make_brief, prepare

    tag = _state(out, source)["tag"]
    jobs, bad = [], []
    for index, item in enumerate(items):
        if item.error is None:
            fields = _resolve_paths({**{k: v for k, v in overrides.items() if v is not None}, **item.fields},
                                    source.parent)
            try:
                prepare(make_brief(**fields), settings)
            except (UsageError, TypeError) as exc:
                item.error = str(exc)
        if item.error is not None:
            bad.append({"index": index, "line": item.line, "reason": item.error})
            continue
        for k in range(samples):
            job_seed = fields["seed"] + k if fields.get("seed") is not None else seed + 1000 * index + k
            job = f"{index:05d}" if samples == 1 else f"{index:05d}-{k}"
            jobs.append(Job(index, k, f"{tag}-{job}", {**fields, "seed": job_seed}, item))
    return jobs, bad


def run_job(job: Job, runs_dir: Path, settings) -> dict:
    """Run, resume or read back one job; its summary row."""
    from limner.agent.runner import has_checkpoint, resume, run

    start = time.perf_counter()
    folder = runs_dir / job.run_id
    row = {"index": job.index, "line": job.item.line, "sample": job.sample, "run_id": job.run_id,
           "prompt": job.fields.get("prompt"), "run_dir": str(folder)}
    try:
        result = None
        if folder.is_dir():
            if has_checkpoint(folder):
                result = resume(str(folder), settings=settings)
            else:  # killed before its first checkpoint: nothing was made, start it again
                shutil.rmtree(folder)
        if result is None:
            result = run(out=runs_dir, run_id=job.run_id, settings=settings, **job.fields)
    except UsageError as exc:
        return {**row, "status": "error", "reason": str(exc), "seconds": round(time.perf_counter() - start, 2)}
    except Exception as exc:  # noqa: BLE001 - one job that raises must not end the batch: the row says why
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return {**row, "status": "error", "reason": reason, "seconds": round(time.perf_counter() - start, 2)}
    return {**row, "status": result.status, "reason": result.stop_reason, "score": result.score,
            "rounds": result.rounds, "nfe": result.nfe, "seconds": round(result.seconds, 2),
            "final": result.final_path}


def write_geneval(out: Path, job: Job, row: dict) -> None:
    """``<out>/geneval/<brief>/metadata.jsonl`` and ``samples/<sample>.png``: GenEval's own evaluator reads it."""
    from limner.agent._run.store import atomic_write_bytes

    folder = out / "geneval" / f"{job.index:05d}"
    meta = job.item.metadata or {"prompt": job.fields["prompt"]}
    meta_path = folder / "metadata.jsonl"
    if not meta_path.is_file():
        atomic_write_bytes(meta_path, (json.dumps(meta) + "\n").encode())
    if row.get("final"):
        atomic_write_bytes(folder / "samples" / f"{job.sample:04d}.png", Path(row["final"]).read_bytes())


def totals(rows: list[dict]) -> dict:
    done = [r for r in rows if r.get("status") in DONE]
    scores = [r["score"] for r in done if r.get("score") is not None]
    count = {s: sum(r.get("status") == s for r in rows) for s in ("passed", "best_effort", "unverified", "failed", "error")}
    return {"jobs": len(rows), **count, "mean_score": round(sum(scores) / len(scores), 4) if scores else None,
            "nfe": sum(r.get("nfe") or 0 for r in done), "seconds": round(sum(r.get("seconds") or 0 for r in rows), 2)}


def write_summary(out: Path, source: Path, rows: list[dict], bad: list[dict], runner: dict | None = None) -> dict:
    from limner.agent._run.store import atomic_write_json

    summary = {"schema": "limner.batch/1", "source": str(source), "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
               "runner": runner or {"kind": "local"}, "totals": totals(rows), "bad_briefs": bad, "jobs": rows}
    atomic_write_json(out / "summary.json", summary)
    return summary


def run_batch(source: Path, out: Path, *, samples: int = 1, seed: int = 0, geneval_layout: bool = False,
              overrides: dict | None = None, settings=None,
              on_job: Callable[[dict, int, int], None] | None = None, ray=None,
              on_busy: Callable[[int, int], None] | None = None) -> dict:
    """Run every brief of ``source`` into ``out``; resumable. Returns the summary (also in ``summary.json``).

    ``ray``: a ``batch_ray.RayOptions`` to run the jobs on a Ray cluster's workers instead of one after another
    here (same run ids, folders and summary); ``on_busy(busy, workers)`` as the pool's load changes."""
    from limner.agent.config import load_settings
    from limner.agent._run.store import check_home, check_writable

    if samples < 1:
        raise UsageError("--samples must be at least 1")
    settings = settings or load_settings()
    out = Path(out).expanduser()
    items = read_briefs(Path(source))  # a missing or empty brief file leaves no output folder behind
    check_writable(out)
    check_home()
    out.mkdir(parents=True, exist_ok=True)
    with batch_lock(out):
        from limner.agent._run.store import clear_partial_writes

        clear_partial_writes(out)  # a killed batch's half-written files; no one else writes here now
        return _run_batch(items, source, out, samples, seed, geneval_layout, overrides, settings, on_job, ray,
                          on_busy)


LOCK_FILE = ".batch.lock"


@contextmanager
def batch_lock(out: Path):
    """Hold the batch folder for this process: a second ``limner batch`` on the same folder is refused with one
    line while this one runs. The lock is the kernel's (``flock``), so it goes with the process, even on SIGKILL,
    and the same command resumes the batch."""
    try:
        import fcntl
    except ImportError:  # no flock (Windows): one batch per folder is the user's to keep
        yield
        return
    path = out / LOCK_FILE
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise UsageError(f"batch folder {out} is in use by another limner batch ({holder}): wait for it to "
                             "finish, or give another --out") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run_batch(items, source, out, samples, seed, geneval_layout, overrides, settings, on_job, ray, on_busy) -> dict:
    jobs, bad = plan_jobs(items, out, Path(source), samples, seed, overrides or {}, settings)
    rows = [{"index": j.index, "line": j.item.line, "sample": j.sample, "run_id": j.run_id,
             "prompt": j.fields["prompt"], "status": "pending"} for j in jobs]
    runner = {"kind": "local"} if ray is None else {"kind": "ray", "starting": True}
    write_summary(out, Path(source), rows, bad, runner)
    done = 0

    def finished(k: int, row: dict) -> None:
        nonlocal done
        rows[k], done = row, done + 1
        if geneval_layout:
            write_geneval(out, jobs[k], row)
        write_summary(out, Path(source), rows, bad, runner)
        if on_job is not None:
            on_job(row, done, len(jobs))

    if ray is None:
        for k, job in enumerate(jobs):
            finished(k, run_job(job, out / "runs", settings))
    else:
        from limner.agent.batch_ray import clear_leftovers, run_on_ray

        clear_leftovers(out / "runs")
        run_on_ray(list(enumerate(jobs)), run_job, out, _state(out, Path(source))["tag"], settings, ray, finished,
                   busy=on_busy, report=runner)
    return write_summary(out, Path(source), rows, bad, runner)
