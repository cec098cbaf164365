"""``limner bench serve``: a warm ``limner serve`` against cold ``limner run``, concurrency, cancel, SIGKILLs, fuzz.

Everything runs on loopback against a server this bench starts itself (a subprocess, as a user starts it), on the
embedded model unless ``model`` is given. Loops are bounded (a fixed number of requests per client).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ENDED = {"passed", "best_effort", "unverified", "failed", "cancelled"}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, out: Path, model: str | None, port: int | None = None):
        self.out, self.model = out, model
        self.port = port or _port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self) -> float:
        """Start it; the seconds until ``/health`` answers."""
        import httpx

        cmd = [sys.executable, "-m", "limner.agent.cli", "serve", "--port", str(self.port), "--out", str(self.out)]
        if self.model:
            cmd += ["--model", self.model]
        t0 = time.perf_counter()
        self.out.parent.mkdir(parents=True, exist_ok=True)
        log = (self.out.parent / "serve.log").open("ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                     env=_env(self.out.parent))
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"limner serve exited {self.proc.returncode}: see {self.out.parent / 'serve.log'}")
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return time.perf_counter() - t0
            except httpx.HTTPError:
                time.sleep(0.05)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def _env(work: Path) -> dict:
    """The bench's processes keep their runs index in its own home, not the user's."""
    return {**os.environ, "LIMNER_HOME": str(work / "home")}


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def cold_cli(prompt: str, seeds: list[int], work: Path, model: str | None) -> list[float]:
    """Seconds of ``limner run`` per image, each a fresh process (what a script pays without a service)."""
    out = []
    for seed in seeds:
        cmd = [sys.executable, "-m", "limner.agent.cli", "run", prompt, "--seed", str(seed), "--out", str(work / "cli")]
        if model:
            cmd += ["--model", model]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=_env(work))
        out.append(time.perf_counter() - t0)
    return out


def _generate(client, base: str, prompt: str, seed: int) -> dict:
    t0 = time.perf_counter()
    r = client.post(f"{base}/v1/images/generations", json={"prompt": prompt, "seed": seed, "n": 1}, timeout=600)
    latency = time.perf_counter() - t0
    body = r.json()
    run_id = (body.get("limner") or {}).get("run_id")
    return {"status": r.status_code, "latency": latency, "run_id": run_id, "images": len(body.get("data") or [])}


def concurrency(base: str, prompt: str, clients: int, per_client: int) -> dict:
    """``clients`` threads, each sending ``per_client`` requests one after another."""
    import httpx

    def client_loop(c: int) -> list[dict]:  # one connection per client, as an SDK keeps it
        with httpx.Client() as client:
            return [_generate(client, base, prompt, 1000 * c + k) for k in range(per_client)]

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(client_loop, c) for c in range(clients)]
        rows = [row for f in futures for row in f.result()]
    wall = time.perf_counter() - t0
    ok = [r for r in rows if r["status"] == 200 and r["images"] == 1]
    lat = [r["latency"] for r in ok]
    # what the worker spent on each job (started -> finished): the rest of a request's latency is the service's
    jobs = [httpx.get(f"{base}/v1/runs/{r['run_id']}", timeout=30).json() for r in ok]
    work = [j["finished"] - j["started"] for j in jobs]
    return {"clients": clients, "requests": len(rows), "answered": len(ok),
            "distinct_runs": len({r["run_id"] for r in ok}), "p50": _pct(lat, 0.5), "p95": _pct(lat, 0.95),
            "wall": wall, "per_minute": 60 * len(ok) / wall, "seconds_per_image": wall / max(1, len(ok)),
            "job_seconds_median": statistics.median(work) if work else None,
            "overhead_share": (statistics.median([(l - w) / l for l, w in zip(lat, work)]) if clients == 1 and work
                               else None)}


def cancel_latency(base: str, trials: int) -> dict:
    """Seconds from sending ``cancel`` to reading the job's ``ended`` event, against the time of one step."""
    import httpx

    rows = []
    client = httpx.Client(timeout=600)  # one connection, as a client keeps it: the cancel pays no new one
    for t in range(trials):
        jid = client.post(f"{base}/v1/runs", json={"prompt": "a red circle", "seed": 100 + t,
                                                   "budgets": {"threshold": 1.0, "max_rounds": 8}}).json()["id"]
        sent, steps, ended = None, [], None
        with httpx.stream("GET", f"{base}/v1/runs/{jid}/events", timeout=600) as r:
            for line in r.iter_lines():
                if not line.startswith("data:"):
                    continue
                e = json.loads(line[5:])
                if e["event"] == "step":
                    steps.append(time.perf_counter())
                    if e.get("round") == 2 and e.get("step") == 5 and sent is None:
                        sent = time.perf_counter()
                        client.post(f"{base}/v1/runs/{jid}/cancel")
                if e["event"] == "ended":
                    ended = time.perf_counter()
                    status = e["status"]
                    break
        gaps = [b - a for a, b in zip(steps, steps[1:]) if b - a < 1.0]
        rows.append({"seconds": ended - sent if sent else None, "status": status,
                     "step_seconds": statistics.median(gaps) if gaps else None})
    client.close()
    done = [r for r in rows if r["seconds"] is not None]
    return {"trials": trials, "cancelled": sum(r["status"] == "cancelled" for r in rows),
            "median_seconds": statistics.median([r["seconds"] for r in done]),
            "max_seconds": max(r["seconds"] for r in done),
            "step_seconds": statistics.median([r["step_seconds"] for r in done if r["step_seconds"]])}


def kills(work: Path, model: str | None, n: int, seed: int = 0) -> dict:
    """SIGKILL the server ``n`` times at random moments while jobs are queued and running; restart it each time.
    Then every job must end exactly once, announce each candidate once, and own exactly one run folder."""
    import httpx

    rng = random.Random(seed)
    out = work / "kills" / "runs"
    server = Server(out, model)
    server.start()
    prompts = ["a red circle", "two blue squares", "a green triangle left of a red circle", "a yellow square"]
    ids = []
    jobs_dir = out / ".limner-service" / "jobs"
    mid_generation = 0
    for k in range(n):
        for _ in range(2):  # keep the queue fed: some jobs are queued, one runs, when the kill lands
            ids.append(httpx.post(f"{server.base}/v1/runs", json={
                "prompt": rng.choice(prompts), "seed": rng.randrange(1000),
                "budgets": {"max_rounds": 2, "threshold": 1.0}}, timeout=60).json()["id"])
        # land the kill while a job generates: after a denoising step of this process, at a random moment
        since = time.time()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _stepping(jobs_dir, ids, since):
            time.sleep(0.05)
        mid_generation += _stepping(jobs_dir, ids, since)
        time.sleep(rng.uniform(0.0, 1.5))
        server.kill()
        server.start()
    deadline = time.monotonic() + 60 + 10 * len(ids)
    while time.monotonic() < deadline:
        statuses = [httpx.get(f"{server.base}/v1/runs/{i}", timeout=30).json()["status"] for i in ids]
        if all(s in ENDED for s in statuses):
            break
        time.sleep(0.5)
    problems, requeued = [], 0
    for i in ids:
        events = [json.loads(line) for line in (jobs_dir / f"{i}.events.jsonl").read_text().splitlines()
                  if line.strip().endswith("}")]
        kinds = [e["event"] for e in events]
        requeued += kinds.count("requeued")
        cands = [e["id_"] for e in events if e["event"] == "candidate"]
        if kinds.count("ended") != 1:
            problems.append(f"{i}: ended {kinds.count('ended')} times")
        if len(cands) != len(set(cands)):
            problems.append(f"{i}: a candidate announced twice")
    folders = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    started = [i for i in ids if (out / i).exists()]
    if sorted(started) != folders:
        problems.append("a run folder that is no job's")
    server.stop()
    return {"kills": n, "mid_generation": mid_generation, "jobs": len(ids), "requeued": requeued,
            "problems": problems,
            "ended_once": len(ids) - sum("ended" in p for p in problems)}


def _stepping(jobs_dir: Path, ids: list[str], since: float) -> bool:
    """Whether some job logged a denoising step after ``since``."""
    for i in ids:
        path = jobs_dir / f"{i}.events.jsonl"
        if not path.is_file():
            continue
        for line in reversed(path.read_text().splitlines()[-40:]):
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if e.get("event") == "step" and e.get("time", 0) > since:
                return True
    return False


def fuzz(base: str, examples: int, work: Path) -> dict:
    """Schemathesis against the served OpenAPI document: every answer must be a non-5xx (bounded examples)."""
    if shutil.which("st") is None and shutil.which("schemathesis") is None:
        return {"skipped": "schemathesis is not installed: pip install schemathesis"}
    exe = shutil.which("st") or shutil.which("schemathesis")
    cmd = [exe, "run", f"{base}/openapi.json", "--checks", "not_a_server_error", "--max-examples", str(examples),
           "--exclude-path-regex", "/events$", "--request-timeout", "120",
           "--report", "junit", "--report-junit-path", str(work / "fuzz.xml")]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    text = (work / "fuzz.xml").read_text() if (work / "fuzz.xml").is_file() else ""
    import re

    tests = sum(int(x) for x in re.findall(r'<testsuite [^>]*tests="(\d+)"', text))
    failures = sum(int(x) for x in re.findall(r'<testsuite [^>]*failures="(\d+)"', text))
    errors = sum(int(x) for x in re.findall(r'<testsuite [^>]*errors="(\d+)"', text))
    return {"operations": tests, "failures": failures, "errors": errors, "exit": proc.returncode,
            "seconds": time.perf_counter() - t0, "tail": proc.stdout[-1500:]}


def bench(model: str | None = None, clients: tuple[int, ...] = (1, 4, 16), per_client: int = 2,
          cli_repeats: int = 3, cancel_trials: int = 5, kill_count: int = 20, fuzz_examples: int = 10) -> dict:
    work = Path(tempfile.mkdtemp(prefix="limner-bench-serve-"))
    prompt = "two red circles and a blue square"
    try:
        result: dict = {"model": model or "shapes-tiny", "prompt": prompt}
        cli = cold_cli(prompt, list(range(cli_repeats)), work, model)
        result["cli_seconds_per_image"] = statistics.median(cli)
        server = Server(work / "runs", model)
        t0 = time.perf_counter()
        result["server_up_seconds"] = server.start()
        import httpx

        with httpx.Client() as client:
            first = _generate(client, server.base, prompt, 7)
        result["first_image_seconds"] = time.perf_counter() - t0
        result["first_request_seconds"] = first["latency"]
        result["concurrency"] = [concurrency(server.base, prompt, c, per_client) for c in clients]
        result["cancel"] = cancel_latency(server.base, cancel_trials)
        result["fuzz"] = fuzz(server.base, fuzz_examples, work) if fuzz_examples else {"skipped": "--fuzz 0"}
        health = server_health(server.base)
        result["worker_after_fuzz"] = health
        server.stop()
        result["tracebacks_in_server_log"] = (work / "serve.log").read_text(errors="replace").count("Traceback")
        result["faults"] = kills(work, model, kill_count) if kill_count else {"skipped": "--kills 0"}
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def server_health(base: str) -> dict:
    import httpx

    return httpx.get(f"{base}/health", timeout=10).json()
