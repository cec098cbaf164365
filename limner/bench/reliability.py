"""``limner bench reliability``: nothing breaks, nothing is lost, no one gets in, measured.

Sections, each a table row group in the printed report and a key in the JSON:

- ``inputs``: hypothesis-generated cases through every front door (``fuzz``): tracebacks, unclear failures
  and partial run folders per door;
- ``llm``: mutated answers for every kind of LLM call through the real client and caller, and whole runs
  against a server that mutates every answer (``llm_faults``): crashes, calls over the allowance, runs
  without a final image;
- ``kills``: SIGKILL campaigns on ``run``, ``batch``, ``chat`` and ``mcp`` (``kills``): kills, resumed runs
  completed, corrupt files, candidates saved twice, events lost;
- ``disk``: a full disk (a small tmpfs, where this process may mount one) and a read-only home;
- ``concurrency``: several ``limner run`` processes sharing one home;
- ``secrets``: every file the bench made Limner write, searched for the fake API key.

Everything runs in a temporary folder (``--work`` keeps it), with its own ``LIMNER_HOME``.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from limner.bench.scoped import scoped_env

QUICK = {"inputs": {"run": 150, "edit": 100, "verify": 100, "show": 60, "resume": 60, "plan": 150, "batch": 100,
                    "bench": 80}, "mcp": 150, "chat": 200, "llm_per_kind": None, "llm_runs": 6, "kills": 20,
         "concurrent": 4}
FULL = {**QUICK, "inputs": {k: v * 3 for k, v in QUICK["inputs"].items()}, "mcp": 450, "chat": 600, "llm_runs": 24,
        "kills": 50, "concurrent": 6}


def inputs(work: Path, sizes: dict, seed: int, say) -> dict:
    from limner.bench.fuzz import fuzz_chat_answers, fuzz_cli, fuzz_mcp

    say("generated inputs: CLI front doors")
    rows = fuzz_cli(work / "inputs", sizes["inputs"], seed)
    say("generated inputs: MCP tool arguments and chat answers")
    rows.append(fuzz_mcp(work / "inputs", sizes["mcp"], seed))
    rows.append(fuzz_chat_answers(sizes["chat"], seed))
    return {"doors": rows}


def llm(work: Path, sizes: dict, seed: int, say) -> dict:
    from limner.bench.llm_faults import mutated_calls, mutated_runs

    say("LLM faults: mutated answers for every kind of call")
    calls = mutated_calls(seed, sizes["llm_per_kind"])
    say("LLM faults: whole runs against a mutating server")
    runs = mutated_runs(work / "llm", sizes["llm_runs"], seed)
    return {"calls": calls, "runs": runs}


def kills(work: Path, sizes: dict, seed: int, say) -> dict:
    """The four campaigns, two at a time (their kill moments are wall-clock, so waiting overlaps)."""
    from limner.bench.kills import CAMPAIGNS

    say(f"kills: {sizes['kills']} per front door ({', '.join(CAMPAIGNS)})")
    (work / "kills").mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(fn, work / "kills", sizes["kills"], random.Random(seed + i))
                   for i, fn in enumerate(CAMPAIGNS.values())]
        return {"doors": [f.result() for f in futures]}


def disk(work: Path, seed: int, say) -> dict:
    """A run on a 150 KB tmpfs (one clear line; resumed once the disk is grown), and a read-only home."""
    from limner.bench.integrity import check_run
    from limner.bench.kills import limner

    say("disk: full and read-only")
    rows = []
    folder = work / "disk"
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=150k", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        rows.append({"case": "full disk", "skipped": f"cannot mount a tmpfs: {mounted.stderr.decode().strip()[:100]}"})
    else:
        try:
            out = folder / "runs"
            first = subprocess.run(limner("run", "a red circle", "--seed", "2", "--out", str(out), "--quiet"),
                                   capture_output=True, text=True, timeout=600)
            errors = [ln for ln in first.stderr.splitlines() if ln.startswith("error:")]
            row = {"case": "full disk", "exit": first.returncode, "one_line": len(errors) == 1 and "Traceback" not in first.stderr,
                   "message": errors[0][:200] if errors else first.stderr[-200:]}
            subprocess.run(["mount", "-o", "remount,size=50m", str(folder)], check=True)
            dirs = [d for d in out.iterdir()] if out.is_dir() else []
            if dirs:
                again = subprocess.run(limner("resume", str(dirs[0]), "--quiet", "--json"), capture_output=True,
                                       text=True, timeout=600)
                row["resumed"] = again.returncode in (0, 1)
                row["whole"] = check_run(dirs[0])["ok"]
            else:
                row["resumed"] = row["whole"] = "no folder left (full before the first checkpoint)"
            rows.append(row)
        finally:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)
    home = work / "read-only-home"
    home.mkdir(exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(home)], capture_output=True)
    if mounted.returncode != 0:  # not root: a folder without write permission does the same
        os.chmod(home, 0o555)
    try:
        env = dict(os.environ, LIMNER_HOME=str(home))
        done = subprocess.run(limner("run", "a red circle", "--out", str(work / "ro-out"), "--quiet"),
                              capture_output=True, text=True, env=env, timeout=600)
        errors = [ln for ln in done.stderr.splitlines() if ln.strip()]
        writable = os.access(home, os.W_OK) and mounted.returncode != 0  # root writes through permissions
        rows.append({"case": "read-only home", "exit": done.returncode, "one_line": len(errors) == 1,
                     "message": (errors or [""])[0][:200], "left_folder": (work / "ro-out").exists(),
                     **({"note": "writable anyway (root, and no tmpfs could be mounted)"} if writable else {})})
    finally:
        if mounted.returncode == 0:
            subprocess.run(["umount", "-l", str(home)], capture_output=True)
    return {"cases": rows}


def concurrency(work: Path, n: int, seed: int, say) -> dict:
    """``n`` ``limner run`` processes at once on one home: every one succeeds, the index has every run."""
    import sqlite3

    from limner.bench.integrity import check_run
    from limner.bench.kills import limner

    say(f"concurrency: {n} limner run processes on one home")
    out = work / "concurrent"
    procs = [subprocess.Popen(limner("run", "a red circle", "--seed", str(seed + i), "--out", str(out), "--quiet",
                                     "--json"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(n)]
    results = [p.communicate(timeout=900) for p in procs]
    ok = sum(p.returncode in (0, 1) for p in procs)
    from limner.tools._home import limner_home

    db = sqlite3.connect(limner_home() / "runs.sqlite")
    try:
        indexed = {row[0] for row in db.execute("SELECT dir FROM runs")}
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()
    dirs = sorted(out.iterdir()) if out.is_dir() else []
    return {"processes": n, "succeeded": ok, "errors": [e[-200:] for (_, e), p in zip(results, procs) if p.returncode not in (0, 1)],
            "indexed": sum(str(d.resolve()) in indexed for d in dirs), "index_integrity": integrity,
            "whole": sum(check_run(d)["ok"] for d in dirs)}


def secrets(work: Path, home: Path) -> dict:
    from limner.bench.llm_faults import secrets_in

    found = secrets_in(work, home)
    return {"files_scanned": sum(1 for root in {work, home} for p in root.rglob("*") if p.is_file()), "found": found}


SECTIONS = ("inputs", "llm", "kills", "disk", "concurrency")


def run_reliability(quick: bool = True, seed: int = 0, work: Path | None = None, only: list[str] | None = None,
                    say=print, sizes: dict | None = None) -> dict:
    """Every section (or ``only`` some), in a temporary folder; the JSON-safe results. ``sizes`` overrides the
    quick or full sizes (a test's small run)."""
    sizes = sizes or (QUICK if quick else FULL)
    keep = work is not None
    work = Path(work) if keep else Path(tempfile.mkdtemp(prefix="limner-reliability-"))
    work.mkdir(parents=True, exist_ok=True)
    result = {"quick": quick, "seed": seed, "sizes": sizes, "work": str(work) if keep else None}
    timings = {}
    try:
        home = work / "home"
        with scoped_env({"LIMNER_HOME": str(home)}):
            for name in SECTIONS:
                if only and name not in only:
                    continue
                start = time.perf_counter()
                if name == "inputs":
                    result[name] = inputs(work, sizes, seed, say)
                elif name == "llm":
                    result[name] = llm(work, sizes, seed, say)
                elif name == "kills":
                    result[name] = kills(work, sizes, seed, say)
                elif name == "disk":
                    result[name] = disk(work, seed, say)
                else:
                    result[name] = concurrency(work, sizes["concurrent"], seed, say)
                timings[name] = round(time.perf_counter() - start, 1)
            result["secrets"] = secrets(work, home)
    finally:
        if not keep:
            _chmod_writable(work)
            shutil.rmtree(work, ignore_errors=True)
    result["seconds"] = timings
    result["failures"] = failures(result)
    return result


def _chmod_writable(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            try:
                os.chmod(path, 0o755)
            except OSError:
                pass


def failures(result: dict) -> int:
    """Every failure column added up: the number the bench exists to keep at zero."""
    total = 0
    for row in result.get("inputs", {}).get("doors", []):
        total += row["tracebacks"] + row["unclear"] + row["partial"]
    for row in result.get("llm", {}).get("calls", []):
        total += len(row["crashes"]) + row["over_allowance"]
    runs = result.get("llm", {}).get("runs")
    if runs:
        total += len(runs["crashes"]) + runs["no_final"] + runs["over_budget"]
    for row in result.get("kills", {}).get("doors", []):
        total += (row["runs"] - row["completed"]) + row["files_corrupt"] + row["files_duplicates"] \
            + row["files_lost_events"] + row["files_stray"] + len(row["problems"])
    for row in result.get("disk", {}).get("cases", []):
        if "skipped" not in row and "note" not in row:
            total += (not row["one_line"]) + (row.get("resumed") is False) + (row.get("whole") is False) \
                + bool(row.get("left_folder"))
    conc = result.get("concurrency")
    if conc:
        total += (conc["processes"] - conc["succeeded"]) + (conc["processes"] - conc["indexed"]) \
            + (conc["index_integrity"] != "ok") + (conc["processes"] - conc["whole"])
    total += len(result.get("secrets", {}).get("found", []))
    return total


def table(result: dict) -> str:
    """The printed report: one block per section."""
    lines = []
    doors = result.get("inputs", {}).get("doors", [])
    if doors:
        lines += ["generated inputs (hypothesis)", f"  {'front door':<14}{'cases':>7}{'ok':>6}{'refused':>9}"
                  f"{'tracebacks':>12}{'unclear':>9}{'partial':>9}"]
        for r in doors:
            lines.append(f"  {r['door']:<14}{r['cases']:>7}{r['succeeded']:>6}{r['refused']:>9}{r['tracebacks']:>12}"
                         f"{r['unclear']:>9}{r['partial']:>9}")
        lines.append(f"  {'all':<14}{sum(r['cases'] for r in doors):>7}{'':>6}{'':>9}"
                     f"{sum(r['tracebacks'] for r in doors):>12}{sum(r['unclear'] for r in doors):>9}"
                     f"{sum(r['partial'] for r in doors):>9}")
    calls = result.get("llm", {}).get("calls", [])
    if calls:
        lines += ["", "mutated LLM answers (real client and caller)",
                  f"  {'call':<10}{'answers':>9}{'valid':>7}{'fallback':>10}{'crashes':>9}{'over allowance':>16}"]
        for r in calls:
            lines.append(f"  {r['kind']:<10}{r['answers']:>9}{r['valid']:>7}{r['fallback']:>10}{len(r['crashes']):>9}"
                         f"{r['over_allowance']:>16}")
        lines.append(f"  {'all':<10}{sum(r['answers'] for r in calls):>9}{'':>7}{'':>10}"
                     f"{sum(len(r['crashes']) for r in calls):>9}{sum(r['over_allowance'] for r in calls):>16}")
    runs = result.get("llm", {}).get("runs")
    if runs:
        ended = ", ".join(f"{k} {v}" for k, v in sorted(runs["ended"].items()))
        lines.append(f"  whole runs, every answer mutated: {runs['runs']} runs ({ended}), {runs['llm_requests']} "
                     f"requests; crashes {len(runs['crashes'])}, no final image {runs['no_final']}, "
                     f"over LLM budget {runs['over_budget']}")
    kill_rows = result.get("kills", {}).get("doors", [])
    if kill_rows:
        lines += ["", "killed at random moments (SIGKILL; in a chat every other one Ctrl-C), then continued",
                  f"  {'front door':<11}{'kills':>6}{'Ctrl-C':>8}{'runs':>6}{'completed':>11}{'restarted':>11}{'files':>7}"
                  f"{'corrupt':>9}{'twice':>7}{'lost ev.':>10}{'stray':>7}"]
        for r in kill_rows:
            lines.append(f"  {r['door']:<11}{r['kills']:>6}{r.get('ctrl_c', 0):>8}{r['runs']:>6}{r['completed']:>11}"
                         f"{r['restarted']:>11}"
                         f"{r['files_checked']:>7}{r['files_corrupt']:>9}{r['files_duplicates']:>7}"
                         f"{r['files_lost_events']:>10}{r['files_stray']:>7}")
    disk_rows = result.get("disk", {}).get("cases", [])
    if disk_rows:
        lines += ["", "disk"]
    for r in disk_rows:
        if "skipped" in r:
            lines.append(f"  {r['case']}: skipped ({r['skipped']})")
        else:
            extra = "".join(f", {k} {r[k]}" for k in ("resumed", "whole", "left_folder", "note") if k in r)
            lines.append(f"  {r['case']}: exit {r['exit']}, one line {r['one_line']}{extra}: {r['message']}")
    conc = result.get("concurrency")
    if conc:
        lines += ["", f"concurrency: {conc['processes']} limner run processes on one home: {conc['succeeded']} succeeded, "
                  f"{conc['indexed']} indexed (index {conc['index_integrity']}), {conc['whole']} folders whole"]
    sec = result.get("secrets")
    if sec:
        lines += ["", f"secrets: {sec['files_scanned']} files scanned for the fake API key: {len(sec['found'])} found"]
    lines += ["", f"failures: {result['failures']}   seconds: "
              + ", ".join(f"{k} {v}" for k, v in result.get("seconds", {}).items())]
    return "\n".join(lines)
