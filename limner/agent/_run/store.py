"""Run folders on disk and the index of runs.

A run folder ``<out>/<run-id>/`` holds ``candidates/`` (one PNG and one JSON
record per candidate; the record is written after its PNG, so a record on disk
means a complete candidate), ``final.png``, ``manifest.json``, ``events.jsonl``
and ``checkpoint.sqlite`` (the LangGraph checkpointer). Every file is written to a
temporary name and renamed, so nothing is ever half-written. The index
``$LIMNER_HOME/runs.sqlite`` maps run ids to folders for ``limner resume``/``show``.
"""

from __future__ import annotations

import functools
import json
import os
import re
import secrets
import sqlite3
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from limner.agent._run.migrations import LLM_LOG, RUNS_INDEX, migrate
from limner.agent.errors import UsageError
from limner.tools._home import limner_home
from limner.tools.images import sha256_file


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


@functools.lru_cache(maxsize=1)
def _umask() -> int:
    """The process's umask, read once (reading it means setting it: done once, before threads write files)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        # mkstemp makes 0600; the file gets the mode any file the user creates gets (0644 under umask 022)
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_PARTIAL = re.compile(r"^\.(?P<name>.+)\.[A-Za-z0-9_]{8}$")  # what mkstemp(prefix=".<name>.") names


def clear_partial_writes(folder: Path) -> int:
    """Remove the temporary files of atomic writes a killed process left under ``folder``; how many.

    Only safe while nothing else writes there (the batch calls it under its lock)."""
    removed = 0
    for path in folder.rglob(".*"):
        if path.is_file() and not path.is_symlink() and _PARTIAL.match(path.name):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def atomic_write_json(path: Path, data) -> None:
    atomic_write_bytes(path, json.dumps(data, indent=2, sort_keys=False).encode("utf-8") + b"\n")


def check_writable(out: Path, what: str = "output folder", fix: str = "") -> None:
    """Raise ``UsageError`` if files cannot be written under ``out`` (creates nothing that stays)."""
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise UsageError(f"{what} {out} cannot be made: {probe} is not a folder{fix}")
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError:
        raise UsageError(f"{what} {out} is not writable{fix}") from None


def check_home() -> None:
    """Raise ``UsageError`` if Limner's home (the runs index, the LLM log) cannot be written, or one of its
    databases is damaged: checked before a run writes anything, so a damaged home is one line, not a crash."""
    home = limner_home()
    check_writable(home, "Limner's home", ": set LIMNER_HOME to a folder you can write")
    _index().close()
    log = home / "logs.sqlite"
    if log.is_file():
        db = sqlite3.connect(log)
        try:
            migrate(db, LLM_LOG)
        except sqlite3.DatabaseError as exc:
            raise UsageError(f"the LLM call log {log} is damaged ({exc}): move it aside, and Limner starts a "
                             "new one") from None
        finally:
            db.close()


def disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk (or the user's quota) is full."""
    import errno

    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return isinstance(exc, sqlite3.OperationalError) and "full" in str(exc)


class RunStore:
    def __init__(self, run_dir: Path):
        self.dir = Path(run_dir)
        self._saved_events: set[tuple[str, str]] | None = None  # (id, sha256) of candidate_saved events

    @property
    def candidates_dir(self) -> Path:
        return self.dir / "candidates"

    @property
    def manifest_path(self) -> Path:
        return self.dir / "manifest.json"

    @property
    def checkpoint_path(self) -> Path:
        return self.dir / "checkpoint.sqlite"

    def png_path(self, cid: str) -> Path:
        return self.candidates_dir / f"{cid}.png"

    def record_path(self, cid: str) -> Path:
        return self.candidates_dir / f"{cid}.json"

    def save_candidate(self, record: dict, png: bytes) -> dict:
        """Save a candidate's PNG, then its record (checked against ``limner.agent.candidate.Candidate`` first)."""
        from limner.agent.candidate import validated
        from limner.tools.images import sha256_bytes

        record = validated({**record, "path": f"candidates/{record['id']}.png", "sha256": sha256_bytes(png)})
        atomic_write_bytes(self.png_path(record["id"]), png)
        atomic_write_json(self.record_path(record["id"]), record)
        # a round a kill left unmarked is made again (the same pixels, deterministically): logged once
        if (record["id"], record["sha256"]) not in self._event_keys():
            self.event({"event": "candidate_saved", "id": record["id"], "sha256": record["sha256"]})
        return record

    def saved_candidate(self, cid: str) -> dict | None:
        """The candidate's record if it is complete on disk (record present, PNG hash matching)."""
        rec_path, png_path = self.record_path(cid), self.png_path(cid)
        if not rec_path.is_file() or not png_path.is_file():
            return None
        try:
            record = json.loads(rec_path.read_text())
        except (OSError, ValueError):
            return None
        if sha256_file(png_path) != record.get("sha256"):
            return None
        self._ensure_saved_event(record)
        return record

    def _ensure_saved_event(self, record: dict) -> None:
        """A candidate complete on disk has exactly one ``candidate_saved`` event.

        A kill between writing a candidate's record and appending its event leaves a complete candidate
        without one; the run that reuses it appends the missing event (marked ``recovered``), once.
        """
        key = (record["id"], record.get("sha256", ""))
        if key not in self._event_keys():
            self.event({"event": "candidate_saved", "id": record["id"], "sha256": record["sha256"], "recovered": True})

    def _event_keys(self) -> set[tuple[str, str]]:
        if self._saved_events is None:
            self._saved_events = {(e["id"], e.get("sha256", "")) for e in self.events()
                                  if e.get("event") == "candidate_saved" and "id" in e}
        return self._saved_events

    def events(self) -> list[dict]:
        """The event log; a line torn by a kill mid-write is skipped."""
        path = self.dir / "events.jsonl"
        if not path.is_file():
            return []
        out = []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict):
                out.append(item)
        return out

    @contextmanager
    def checkpointer(self):
        """LangGraph's SQLite checkpointer on ``checkpoint.sqlite``, open for the ``with`` block."""
        from langgraph.checkpoint.sqlite import SqliteSaver

        conn = sqlite3.connect(str(self.checkpoint_path), check_same_thread=False)
        # WAL with synchronous=NORMAL: a commit is safe from a killed process (only a power cut can lose the last
        # steps, which a resume then redoes); it spares an fsync per graph step
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        try:
            yield SqliteSaver(conn)
        finally:
            conn.close()

    def latest_checkpoint(self):
        """The run's last saved checkpoint, or None (a kill can come before the first one is saved)."""
        if not self.checkpoint_path.is_file():
            return None
        try:
            with self.checkpointer() as saver:
                return next(iter(saver.list(None, limit=1)), None)
        except (sqlite3.DatabaseError, ValueError, TypeError) as exc:  # a damaged file, or rows it cannot read
            saved = len([p for p in self.dir.glob("candidates/*.json") if not p.name.endswith(".round.json")])
            raise UsageError(f"{self.checkpoint_path} is damaged ({str(exc).splitlines()[0]}): the run cannot go "
                             f"on from it; its {saved} saved candidates are in {self.dir / 'candidates'}, or start "
                             "the brief again with `limner run`") from None

    @contextmanager
    def space_for(self, run_id: str, fresh: bool):
        """A full disk is one line: the run is kept to resume once there is space, or, when nothing of it could
        be checkpointed yet (``fresh``), its folder is removed, so nothing half-written is left."""
        try:
            yield
        except (OSError, sqlite3.OperationalError) as exc:
            if not disk_full(exc):
                raise
            try:
                kept = not fresh or self.latest_checkpoint() is not None
            except UsageError:
                kept = False
            if not kept:
                import shutil

                shutil.rmtree(self.dir, ignore_errors=True)
                raise UsageError(f"the disk holding {self.dir.parent} is full: nothing of the run was kept; free "
                                 "some space and run it again") from None
            raise UsageError(f"the disk holding {self.dir} is full: the run is checkpointed; free some space, "
                             f"then `limner resume {run_id}` continues it") from None

    def round_path(self, rnd: int) -> Path:
        return self.candidates_dir / f"r{rnd:02d}.round.json"

    def save_round(self, rnd: int, records: list[dict], log: dict) -> None:
        """Mark a round complete (written after all its candidates): a resumed run reuses it as it is."""
        atomic_write_json(self.round_path(rnd), {"records": records, "log": log})

    def saved_round(self, rnd: int) -> dict | None:
        """A complete round's records and log, if its marker and every candidate on it are intact."""
        path = self.round_path(rnd)
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if any(self.saved_candidate(r["id"]) is None for r in data["records"]):
            return None
        return data

    def event(self, data: dict) -> None:
        """Append one event as one write; a line torn by an earlier kill is ended first, so it stays alone."""
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / "events.jsonl"
        line = (json.dumps({"ts": round(time.time(), 3), **data}) + "\n").encode("utf-8")
        with open(path, "ab") as f:
            if f.tell() > 0:
                with open(path, "rb") as r:
                    r.seek(-1, os.SEEK_END)
                    if r.read(1) != b"\n":
                        line = b"\n" + line
            f.write(line)
        if data.get("event") == "candidate_saved" and self._saved_events is not None:
            self._saved_events.add((data["id"], data.get("sha256", "")))

    def write_manifest(self, manifest: dict) -> None:
        atomic_write_json(self.manifest_path, manifest)

    def read_manifest(self) -> dict:
        """The manifest in the current schema (one of an earlier schema is upgraded as it is read)."""
        from limner.agent._run.migrations import upgrade_manifest

        try:
            return upgrade_manifest(json.loads(self.manifest_path.read_text()))
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read {self.manifest_path}: {exc}") from None


# --- the index of runs -------------------------------------------------------------------------


def _index() -> sqlite3.Connection:
    home = limner_home()
    home.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(home / "runs.sqlite")
    try:
        db.execute("PRAGMA journal_mode=WAL")  # readers never wait for a writer; no fsync per registered run
        db.execute("PRAGMA synchronous=NORMAL")
        migrate(db, RUNS_INDEX)
    except sqlite3.DatabaseError as exc:
        db.close()
        raise UsageError(f"cannot use the runs index {home / 'runs.sqlite'}: {exc}: move it aside, and Limner "
                         "starts a new one (runs stay in their folders; `limner resume FOLDER` needs no index)") from None
    return db


def register_run(run_id: str, run_dir: Path, prompt: str) -> None:
    db = _index()
    try:
        with db:
            db.execute("INSERT OR REPLACE INTO runs VALUES (?,?,?,?)",
                       (run_id, str(run_dir.resolve()), prompt, time.time()))
    finally:
        db.close()


def recent_runs(limit: int = 20) -> list[dict]:
    """The runs of this home, newest first: ``{"run_id", "dir", "prompt", "created", "status"}`` (status from the
    run's manifest: ``running`` when it has none yet, ``missing`` when its folder is gone)."""
    db = _index()
    try:
        rows = db.execute("SELECT run_id, dir, prompt, created FROM runs ORDER BY created DESC LIMIT ?",
                          (limit,)).fetchall()
    finally:
        db.close()
    out = []
    for run_id, folder, prompt, created in rows:
        manifest = Path(folder) / "manifest.json"
        status = "missing" if not Path(folder).is_dir() else "running"
        if manifest.is_file():
            try:
                status = json.loads(manifest.read_text()).get("status", "running")
            except (OSError, ValueError):
                status = "unreadable"
        out.append({"run_id": run_id, "dir": folder, "prompt": prompt, "created": created, "status": status})
    return out


def last_run_id() -> str:
    """The id of the newest run of this home (``--last``); ``UsageError`` when there is none."""
    runs = recent_runs(1)
    if not runs:
        raise UsageError("no run yet: `limner run \"...\"` starts one")
    return runs[0]["run_id"]


def find_run(run_id_or_path: str, within: Path | str | None = None) -> RunStore:
    """A run by id (from the index) or by folder path. Raises ``UsageError`` with one line.

    With ``within`` (the MCP server's runs folder), only a run id is taken, and only a run whose folder lies
    inside ``within``: no path, no ``..``, no run of another folder, no symlink out."""
    if within is not None:
        return _find_within(run_id_or_path, Path(within).expanduser().resolve())
    path = Path(run_id_or_path).expanduser()
    if _is_run_folder(path):
        return RunStore(path)
    db = _index()
    try:
        row = db.execute("SELECT dir FROM runs WHERE run_id = ?", (run_id_or_path,)).fetchone()
    finally:
        db.close()
    if row is None:
        raise UsageError(f"no run '{run_id_or_path}': give a run id from this machine or a run folder path")
    if not Path(row[0]).is_dir():
        raise UsageError(f"run '{run_id_or_path}' was in {row[0]}, which no longer exists")
    return RunStore(Path(row[0]))


def _is_run_folder(path: Path) -> bool:
    try:
        return (path / "manifest.json").is_file() or (path / "checkpoint.sqlite").is_file()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte: not a folder path
        return False


def valid_run_id(run_id: str) -> bool:
    """A run id is at most 128 letters, digits, '-' and '_' (ASCII): a folder name, never a path."""
    return (0 < len(run_id) <= 128 and run_id.isascii()
            and run_id.replace("-", "").replace("_", "").isalnum())


def _find_within(run_id: str, root: Path) -> RunStore:
    if not valid_run_id(run_id):
        raise UsageError(f"'{run_id[:80]}' is not a run id: give the run_id a result returned")
    folder = (root / run_id).resolve()
    if not folder.is_relative_to(root) or not folder.is_dir():
        raise UsageError(f"no run '{run_id}' in {root}")
    return RunStore(folder)
