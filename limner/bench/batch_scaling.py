"""``limner bench batch``: briefs per minute for the local batch runner and for Ray pools of 1, 2, ... workers.

Every arm runs the same brief file into a fresh batch folder (a fresh local Ray cluster for each Ray arm, so its
wall time includes starting it); the Ray arms' start-up (cluster and workers up, before the first job) is
reported apart, and so is the rate after it. The local arm runs in this process (its torch threads are
torch's default; Ray's CPU workers run one thread each).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path


def _arm(name: str, source: Path, out: Path, policy: str | None, ray) -> dict:
    from limner.agent.batch import run_batch

    t0 = time.perf_counter()
    summary = run_batch(source, out, overrides={"policy": policy}, ray=ray)
    wall = time.perf_counter() - t0
    t = summary["totals"]
    n = t["jobs"]
    start = summary["runner"].get("start_seconds", 0.0)
    return {"arm": name, "briefs": n, "done": t["passed"] + t["best_effort"] + t.get("unverified", 0) + t["failed"], "errors": t["error"],
            "mean_score": t["mean_score"], "wall_seconds": round(wall, 2), "start_seconds": start,
            "briefs_per_minute": round(60 * n / wall, 2),
            "briefs_per_minute_after_start": round(60 * n / max(wall - start, 1e-9), 2),
            "runner": summary["runner"]}


def batch_scaling(source: Path, workers: list[int], policy: str | None = None, keep: Path | None = None,
                  progress=None) -> dict:
    import os

    from limner.agent.batch_ray import RayOptions, import_ray

    import_ray()
    root = Path(keep) if keep is not None else Path(tempfile.mkdtemp(prefix="limner-bench-batch-"))
    arms = []
    for name, ray in [("local", None)] + [(f"ray-{w}", RayOptions(workers=w)) for w in workers]:
        if progress is not None:
            progress(name)
        arms.append(_arm(name, source, root / name, policy, ray))
    base = arms[0]["briefs_per_minute"]
    one = next((a["briefs_per_minute"] for a in arms if a["arm"] == "ray-1"), None)
    for a in arms:
        a["vs_local"] = round(a["briefs_per_minute"] / base, 3)
        a["vs_ray_1"] = round(a["briefs_per_minute"] / one, 3) if one and a["arm"].startswith("ray") else None
    return {"source": str(source), "policy": policy or "default", "cpus": os.cpu_count(), "runs_dir": str(root),
            "arms": arms}


def table(result: dict) -> str:
    rows = [f"{'arm':8s} {'briefs':>6s} {'errors':>6s} {'wall s':>7s} {'start s':>7s} {'per min':>8s} "
            f"{'after start':>11s} {'vs local':>8s} {'vs ray-1':>8s}"]
    for a in result["arms"]:
        one = f"{a['vs_ray_1']:.2f}x" if a["vs_ray_1"] is not None else "-"
        rows.append(f"{a['arm']:8s} {a['briefs']:6d} {a['errors']:6d} {a['wall_seconds']:7.1f} "
                    f"{a['start_seconds']:7.1f} {a['briefs_per_minute']:8.1f} {a['briefs_per_minute_after_start']:11.1f} "
                    f"{a['vs_local']:7.2f}x {one:>8s}")
    return "\n".join(rows)
