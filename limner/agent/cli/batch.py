"""``limner batch FILE``: many briefs, one run folder each, a summary and a table; re-run the command to resume."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def _table(summary: dict):
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"batch {summary['source']}")
    for col in ("brief", "line", "status", "score", "rounds", "NFE", "seconds", "prompt"):
        table.add_column(col, justify="right" if col in {"score", "rounds", "NFE", "seconds", "line"} else "left")
    for r in summary["jobs"]:
        name = f"{r['index']:05d}" + (f"-{r['sample']}" if r.get("sample") else "")
        score = f"{r['score']:.3f}" if r.get("score") is not None else "-"
        table.add_row(name, str(r["line"]), r["status"], score, str(r.get("rounds", "-")), str(r.get("nfe", "-")),
                      f"{r.get('seconds', 0):.1f}", escape(r["prompt"][:48]))
    return table


def _totals_line(summary: dict) -> str:
    t = summary["totals"]
    mean = f"{t['mean_score']:.3f}" if t["mean_score"] is not None else "-"
    return (f"total: {t['jobs']} runs: {t['passed']} passed, {t['best_effort']} best effort, "
            f"{t.get('unverified', 0)} unverified, {t['failed']} failed, "
            f"{t['error']} errors; mean score {mean}; {t['nfe']} NFE; {t['seconds']:.1f}s")


def batch(
    file: Path = typer.Argument(..., help="Briefs: JSONL, YAML, or GenEval's evaluation_metadata.jsonl."),
    out: Path = typer.Option(..., "--out", "-o", help="Batch folder (runs/, summary.json); re-use it to resume."),
    samples: int = typer.Option(1, "--samples", help="Final images per brief (independent runs, seeds +0, +1, ...)."),
    seed: int = typer.Option(0, help="Base seed for briefs without one (brief i, sample k: seed + 1000*i + k)."),
    geneval_layout: bool = typer.Option(False, "--geneval-layout",
                                        help="Also write <out>/geneval/<00000>/metadata.jsonl + samples/0000.png."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Default model for briefs that name none."),
    policy: Optional[str] = typer.Option(None, "--policy", "-p", help="Default policy for briefs that name none."),
    threshold: Optional[float] = typer.Option(None, help="Default threshold."),
    candidates: Optional[int] = typer.Option(None, "--candidates", "-n", help="Default candidates per round."),
    max_rounds: Optional[int] = typer.Option(None, "--max-rounds", help="Default round budget."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON instead of a table."),
    ray: bool = typer.Option(False, "--ray", help=(
        "Run the jobs on a Ray cluster's workers (pip install 'limner[ray]'): joins --ray-address or RAY_ADDRESS, "
        "else starts a local cluster.")),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help=(
        "The Ray cluster to join with --ray ('auto', 'ray://host:10001'; default: RAY_ADDRESS).")),
    workers: Optional[int] = typer.Option(None, "--workers", help=(
        "Ray workers (default: one per GPU of the cluster); CPU workers where it has none.")),
    gpus_per_worker: Optional[float] = typer.Option(None, "--gpus-per-worker", help=(
        "GPUs each Ray worker holds (default 1 where the cluster has GPUs; 0.5 shares one between two).")),
):
    """Run every brief of a file; killed or not, the same command again finishes the batch."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from limner.agent.batch import run_batch
    from limner.agent.cli.common import _fail

    options = None
    if ray:
        from limner.agent.batch_ray import RayOptions, import_ray
        from limner.agent.errors import UsageError

        try:
            import_ray()
        except UsageError as exc:
            _fail(str(exc))
        options = RayOptions(address=ray_address, workers=workers, gpus_per_worker=gpus_per_worker)
    elif workers is not None or gpus_per_worker is not None or ray_address is not None:
        _fail("--workers, --gpus-per-worker and --ray-address are for a Ray pool: add --ray")
    console = Console(stderr=True)
    overrides = {"model": model, "policy": policy, "threshold": threshold, "candidates": candidates,
                 "max_rounds": max_rounds}
    scores: list[float] = []
    # the bar starts with the first job, after run_batch has checked every brief and option: a bad one is one line
    progress = Progress(TextColumn("briefs"), BarColumn(), MofNCompleteColumn(), TextColumn("ETA"),
                        TimeRemainingColumn(), TextColumn("{task.fields[mean]}"), TextColumn("{task.fields[busy]}"),
                        console=console, disable=as_json)
    task = progress.add_task("batch", total=None, mean="", busy="")

    def shown() -> Progress:
        if not progress.live.is_started:
            progress.start()
        return progress

    def on_job(row: dict, done: int, total: int) -> None:
        if row.get("score") is not None:
            scores.append(row["score"])
        mean = f"mean score {sum(scores) / len(scores):.3f}" if scores else ""
        shown().update(task, completed=done, total=total, mean=mean)

    def on_busy(busy: int, pool: int) -> None:
        shown().update(task, busy=f"workers busy {busy}/{pool}")

    try:
        summary = run_batch(file, out, samples=samples, seed=seed, geneval_layout=geneval_layout,
                            overrides=overrides, on_job=on_job, ray=options, on_busy=on_busy)
    except KeyboardInterrupt:
        progress.stop()
        typer.echo(f"interrupted: the same command resumes the batch in {out}", err=True)
        raise typer.Exit(130) from None
    finally:
        progress.stop()
    if as_json:
        import json

        typer.echo(json.dumps(summary, indent=2))
    else:
        Console().print(_table(summary))
        typer.echo(_totals_line(summary))
        for b in summary["bad_briefs"]:
            typer.echo(f"bad brief at line {b['line']}: {b['reason']}", err=True)
        typer.echo(f"summary {out / 'summary.json'}")
    t = summary["totals"]
    raise typer.Exit(1 if summary["bad_briefs"] or t["failed"] or t["error"] else 0)
