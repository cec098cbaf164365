"""SIGKILL at random moments of every front door, then resume: the reliability bench's kill campaigns.

Each campaign starts the real command (``limner run``, ``limner batch``, ``limner chat`` in a terminal,
``limner mcp`` over stdio), kills it with SIGKILL after a random delay, continues it the way its user would
(``limner resume``, the same batch command, ``limner chat --resume``, the MCP ``resume`` tool; a run killed
before its first checkpoint is started again), kills that too, and so on; then lets it finish and checks
every folder it wrote with ``integrity.check_run``: files intact, nothing saved twice, the event log agreeing
with the files. Delays are drawn from a seeded generator, so a campaign is repeatable as far as timing allows.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from limner.bench.integrity import check_files, check_run

# a policy that makes a run go through several rounds and strategies (fresh noise, zero-order neighbours,
# repairs), so kills land in every kind of round
KILL_POLICY = {
    "name": "kill-campaign", "planner": "rules", "threshold": 0.995, "max_rounds": 4, "candidates_per_round": 2,
    "budgets": {"nfe": 2000, "llm_calls": 0, "seconds": 600},
    "verifiers": [{"name": "clipscore", "weight": 1.0}, {"name": "questions", "weight": 2.0}],
    "actions": ["repair", "zero_order", "random"], "generation": {"steps": 10},
}
BATCH_POLICY = {**KILL_POLICY, "name": "kill-campaign-batch", "max_rounds": 1, "candidates_per_round": 1}
CHAT_POLICY = {**KILL_POLICY, "name": "kill-campaign-chat", "threshold": 0.8, "max_rounds": 6, "actions": ["random"]}
BRIEFS = ["a red circle", "two blue squares", "a green triangle left of a red square", "a yellow circle",
          "three red triangles", "a purple square above a blue circle"]


def limner(*args: str) -> list[str]:
    return [sys.executable, "-m", "limner.agent.cli", *args]


def _env(**extra: str) -> dict:
    """Two campaigns run at once on the machine's cores: one torch thread per process, not two per core."""
    return {**os.environ, "OMP_NUM_THREADS": "1", **extra}


def _write_policy(work: Path, data: dict) -> str:
    path = work / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def _kill_after(proc: subprocess.Popen, delay: float) -> bool:
    """Kill ``proc`` after ``delay`` seconds; False if it ended by itself first."""
    try:
        proc.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return True


def _run_dirs(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if p.is_dir()) if out.is_dir() else []


class Tally:
    """One campaign's counts and what went wrong."""

    def __init__(self, door: str):
        self.door, self.kills, self.restarts, self.runs, self.completed = door, 0, 0, 0, 0
        self.interrupts = 0  # of the kills, how many were Ctrl-C (chat) rather than SIGKILL
        self.problems: list[str] = []
        self.files = {"checked": 0, "corrupt": 0, "duplicates": 0, "lost_events": 0, "stray": 0}
        self.start = time.perf_counter()

    def check(self, run_dir: Path) -> None:
        report = check_run(run_dir)
        self.files["checked"] += sum(report["files"].values())
        for key in ("corrupt", "duplicates", "lost_events", "stray"):
            self.files[key] += len(report[key])
        if not report["ok"]:
            bad = {k: v for k, v in report.items() if k not in ("files", "ok", "finished", "candidates") and v}
            self.problems.append(f"{run_dir.name}: {bad}")

    def row(self) -> dict:
        return {"door": self.door, "kills": self.kills, "ctrl_c": self.interrupts, "restarted": self.restarts,
                "runs": self.runs,
                "completed": self.completed, **{f"files_{k}": v for k, v in self.files.items()},
                "problems": self.problems, "seconds": round(time.perf_counter() - self.start, 1)}


def _finish(cmd: list[str], tally: Tally, timeout: float = 600) -> dict | None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env())
    try:
        result = json.loads(done.stdout)
    except ValueError:
        tally.problems.append(f"{' '.join(cmd[3:5])}: exit {done.returncode}: {done.stderr.strip()[-300:]}")
        return None
    return result


def campaign_run(work: Path, kills: int, rng: random.Random, per_run: int = 4, longest: float = 12.0) -> dict:
    """``limner run`` killed ``per_run`` times per run (the start and the resumes), then resumed to the end."""
    tally = Tally("run")
    policy = _write_policy(work, KILL_POLICY)
    while tally.kills < kills:
        out = work / "run" / f"{tally.runs:02d}"
        start = limner("run", BRIEFS[tally.runs % len(BRIEFS)], "--seed", str(tally.runs), "--out", str(out),
                       "--policy", policy, "--quiet", "--json")
        tally.runs += 1
        cmd = start
        for _ in range(min(per_run, kills - tally.kills)):
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env())
            killed = _kill_after(proc, rng.uniform(0.3, longest))
            tally.kills += killed
            cmd = _next_run_command(out, start, tally)
            if not killed:
                break  # it finished first
        result = _finish(cmd, tally)
        _judge_runs(out, result, tally)
    return tally.row()


def _next_run_command(out: Path, start: list[str], tally: Tally) -> list[str]:
    """Resume the run if it has a checkpoint; else (killed before its first) start it again."""
    dirs = _resumable(out)
    if dirs:
        return limner("resume", str(dirs[-1]), "--quiet", "--json")
    tally.restarts += 1
    return start


def _resumable(out: Path) -> list[Path]:
    """The run folders under ``out`` that hold a checkpoint. A folder killed after its checkpoint file was
    made but before the first checkpoint went in holds nothing that was made: ``resume`` says so in one line
    (exit 2), and, as a person told that would, it is deleted and the command started again."""
    from limner.agent.runner import has_checkpoint
    from limner.agent.errors import UsageError

    dirs = []
    for d in _run_dirs(out):
        if not (d / "checkpoint.sqlite").is_file():
            continue
        try:
            saved = has_checkpoint(d)
        except UsageError:  # a damaged checkpoint: resumed, so that its one line is the campaign's problem
            saved = True
        if saved:
            dirs.append(d)
        elif not (d / "manifest.json").exists():
            shutil.rmtree(d)
    return dirs


def _judge_runs(out: Path, result: dict | None, tally: Tally) -> None:
    if result is not None and result.get("status") in {"passed", "best_effort", "unverified"} and result.get("final_path"):
        tally.completed += 1
    elif result is not None:
        tally.problems.append(f"{out.name}: ended {result.get('status')}: {result.get('stop_reason')}")
    for run_dir in _run_dirs(out):
        if not (run_dir / "checkpoint.sqlite").is_file() and result and Path(result["run_dir"]) != run_dir:
            tally.problems.append(f"{run_dir}: a folder left by a kill before its first checkpoint")
            continue
        tally.check(run_dir)


def campaign_batch(work: Path, kills: int, rng: random.Random, longest: float = 16.0, briefs: int = 6) -> dict:
    """``limner batch`` killed again and again; the same command each time, then once to the end."""
    tally = Tally("batch")
    policy = _write_policy(work, BATCH_POLICY)
    while tally.kills < kills:
        folder = work / "batch" / f"{tally.runs:02d}"
        folder.mkdir(parents=True)
        briefs_file = folder.parent / f"briefs-{tally.runs:02d}.jsonl"
        briefs_file.write_text("".join(json.dumps({"prompt": p, "seed": i}) + "\n" for i, p in enumerate(BRIEFS[:briefs])))
        cmd = limner("batch", str(briefs_file), "--out", str(folder), "--policy", policy, "--json")
        tally.runs += 1
        for _ in range(min(5, kills - tally.kills)):
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env())
            if not _kill_after(proc, rng.uniform(0.3, longest)):
                break  # it finished first
            tally.kills += 1
        summary = _finish(cmd, tally)
        if summary is not None:
            totals = summary["totals"]
            ok = totals["jobs"] == briefs and totals.get("passed", 0) + totals.get("best_effort", 0) + totals.get("unverified", 0) == briefs
            ok = ok and len({r["run_id"] for r in summary["jobs"]}) == briefs
            tally.completed += ok
            if not ok:
                tally.problems.append(f"batch {folder.name}: {totals}")
        runs = _run_dirs(folder / "runs")
        if len(runs) != briefs:
            tally.problems.append(f"batch {folder.name}: {len(runs)} run folders for {briefs} briefs")
        for run_dir in runs:
            tally.check(run_dir)
        report = check_files(folder)
        if report["corrupt"]:
            tally.problems.append(f"batch {folder.name}: corrupt {report['corrupt']}")
    return tally.row()


def campaign_chat(work: Path, kills: int, rng: random.Random, longest: float = 12.0) -> dict:
    """``limner chat`` in a terminal (pexpect): approve, ask for more, accept; stopped at random moments (SIGKILL,
    and every other time Ctrl-C) and continued with ``limner chat --resume``."""
    import pexpect

    tally = Tally("chat")
    policy = _write_policy(work, CHAT_POLICY)
    env = _env(COLUMNS="200", TERM="dumb", NO_COLOR="1")
    while tally.kills < kills:
        out = work / "chat" / f"{tally.runs:02d}"
        out.mkdir(parents=True)
        args = ["chat", BRIEFS[tally.runs % len(BRIEFS)], "--seed", str(tally.runs), "--out", str(out),
                "--policy", policy, "-n", "1"]
        tally.runs += 1
        tries = min(4, kills - tally.kills)
        for attempt in range(tries + 1):
            final = attempt == tries
            child = pexpect.spawn(sys.executable, ["-m", "limner.agent.cli", *args], env=env, encoding="utf-8",
                                  timeout=240, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
            deadline = None if final else time.monotonic() + rng.uniform(0.3, longest)
            ended = _converse(child, out, deadline)
            if not ended:
                if attempt % 2:  # every other stop is a person's Ctrl-C: the session saves itself and exits 130
                    _interrupt(child, tally)
                else:
                    child.kill(signal.SIGKILL)
                tally.kills += 1
            child.close(force=True)
            dirs = _resumable(out)
            if dirs:
                args = ["chat", "--resume", str(dirs[-1])]
            else:  # killed before its first checkpoint: the same command again
                tally.restarts += 1
            if ended:
                break
        dirs = _run_dirs(out)
        finished = [d for d in dirs if (d / "final.png").is_file()]
        if finished:
            manifest = json.loads((finished[-1] / "manifest.json").read_text())
            tally.completed += manifest["status"] in {"passed", "best_effort", "unverified"}
        else:
            tally.problems.append(f"chat {out.name}: no finished session")
        for run_dir in dirs:
            tally.check(run_dir)
    return tally.row()


def _interrupt(child, tally: Tally) -> None:
    """Ctrl-C in the terminal: the chat must end within a minute, without a traceback."""
    import pexpect

    tally.interrupts += 1
    child.sendintr()
    try:
        child.expect(pexpect.EOF, timeout=60)
    except pexpect.TIMEOUT:
        tally.problems.append("chat: Ctrl-C did not end the session within 60 s")
        child.kill(signal.SIGKILL)
        return
    child.close()
    if "Traceback" in (child.before or ""):  # 130 with 'session saved'; click's 'Aborted!' while it starts
        tally.problems.append(f"chat: Ctrl-C ended in a traceback: {child.before[-300:]!r}")


def _converse(child, out: Path, deadline: float | None) -> bool:
    """Answer the chat until it ends (True) or the deadline comes (False: kill it)."""
    import pexpect

    patterns = ["approve the plan", "what next", pexpect.EOF]
    while True:
        wait = 240 if deadline is None else deadline - time.monotonic()
        if wait <= 0:
            return False
        try:
            found = child.expect(patterns, timeout=wait)
        except pexpect.TIMEOUT:
            if deadline is None:
                raise
            return False
        if found == 2:
            return True
        if found == 0:
            child.sendline("yes")
        else:
            rounds = len(list(out.glob("*/candidates/r*.round.json")))
            child.sendline("more" if rounds < 2 else "accept")


class _Stdio:
    """``limner mcp`` as a subprocess, spoken to in MCP's stdio transport (JSON-RPC, one message a line)."""

    def __init__(self, out: Path):
        self.proc = subprocess.Popen(limner("mcp", "--out", str(out)), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1,
                                     env=_env())
        self.next_id = 0
        self.request("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                    "clientInfo": {"name": "limner-reliability", "version": "1"}})
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def send(self, message: dict) -> None:
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def request(self, method: str, params: dict, deadline: float | None = None) -> dict | None:
        """The response to one request, or None when the server died (or the deadline came: kill it)."""
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        while True:
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                return None
            if not sel.select(timeout=wait):
                return None
            line = self.proc.stdout.readline()
            if not line:
                return None
            message = json.loads(line)
            if message.get("id") == self.next_id and ("result" in message or "error" in message):
                return message

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def campaign_mcp(work: Path, kills: int, rng: random.Random, per_run: int = 4, longest: float = 12.0) -> dict:
    """``limner mcp``: a ``generate`` call, the server killed mid-call; a new server's ``resume`` tool (or
    ``generate`` again, when the kill came before the first checkpoint), killed too; then to the end."""
    tally = Tally("mcp")
    policy = _write_policy(work, KILL_POLICY)
    while tally.kills < kills:
        out = work / "mcp" / f"{tally.runs:02d}"
        out.mkdir(parents=True)
        generate = ("generate", {"prompt": BRIEFS[tally.runs % len(BRIEFS)], "seed": tally.runs, "policy": policy})
        tally.runs += 1
        call = generate
        tries = min(per_run, kills - tally.kills)
        for attempt in range(tries + 1):
            final = attempt == tries
            server = _Stdio(out)
            deadline = None if final else time.monotonic() + rng.uniform(0.3, longest)
            reply = server.request("tools/call", {"name": call[0], "arguments": call[1]}, deadline)
            if reply is None:
                server.kill()
                tally.kills += 1
            else:
                server.close()
            dirs = [d for d in _run_dirs(out) if (d / "checkpoint.sqlite").is_file()]
            if dirs:
                call = ("resume", {"run_id": dirs[-1].name})
            else:
                tally.restarts += 1
            if reply is not None:
                result = reply.get("result", {}).get("structuredContent") or {}
                if reply.get("result", {}).get("isError") or result.get("status") not in {"passed", "best_effort", "unverified"}:
                    tally.problems.append(f"mcp {out.name}: {json.dumps(reply)[:300]}")
                else:
                    tally.completed += 1
                break
        for run_dir in _run_dirs(out):
            tally.check(run_dir)
    return tally.row()


CAMPAIGNS = {"run": campaign_run, "batch": campaign_batch, "chat": campaign_chat, "mcp": campaign_mcp}
