"""The ``limner`` command. Imports stay light: torch and diffusers load only in commands that generate."""

from __future__ import annotations

import json
import sys
from typing import Optional

import typer

from limner.agent.cli.help import App
from limner.agent.cli.common import (_exit_code, _fail, _report, ctrl_c_stops, friendly, plural,  # noqa: F401
                                     run_id_or_last, wrapped)

app = App(
    name="limner",
    help="Limner: an agent that plans image generations, runs diffusion models, verifies the results "
    "and keeps working until the image passes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"limner {version('limner')}")
        except PackageNotFoundError:  # a source checkout that was never installed
            typer.echo("limner (not installed)")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True,
                                       help="Print the version and exit.")):
    """Limner: an agent that plans image generations, runs diffusion models, verifies the results and keeps
    working until the image passes."""


@app.command()
@friendly
def run(
    prompt: str = typer.Argument(..., help="What the image should show."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model alias, hub id or diffusers folder."),
    policy: str = typer.Option("default", "--policy", "-p", help="Shipped policy name or YAML file."),
    threshold: Optional[float] = typer.Option(None, help="Score in [0, 1] that ends the run."),
    max_rounds: Optional[int] = typer.Option(None, "--max-rounds", help="Most rounds of candidates."),
    candidates: Optional[int] = typer.Option(None, "--candidates", "-n", help="Candidates per round."),
    seed: Optional[int] = typer.Option(None, help="Base seed (each candidate's seed derives from it)."),
    negative: str = typer.Option("", "--negative", "--negative-prompt", help="Negative prompt."),
    width: Optional[int] = typer.Option(None, "--width", help="Image width (default: the model's)."),
    height: Optional[int] = typer.Option(None, "--height", help="Image height (default: the model's)."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Denoising steps (default: the model's)."),
    guidance: Optional[float] = typer.Option(None, "--guidance", help="Guidance scale (default: the model's)."),
    planner: Optional[str] = typer.Option(None, help="rules, llm or auto (overrides the policy)."),
    out: str = typer.Option("limner-runs", "--out", "-o", help="Folder for run folders."),
    device: Optional[str] = typer.Option(None, help="cuda, mps, cpu (default: best available)."),
    dtype: Optional[str] = typer.Option(None, help="float32, float16, bfloat16 (default: by device and model)."),
    offload: Optional[str] = typer.Option(None, help="On a GPU short of memory: model or sequential CPU offload."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
):
    """Plan, generate, verify and decide until the image passes or a budget is spent."""
    from limner.agent.cli.progress import ConsoleProgress
    from limner.agent.runner import run as run_agent

    with ctrl_c_stops() as cancel:
        result = run_agent(prompt, out=out, on_event=ConsoleProgress(quiet or as_json), model=model, policy=policy,
                           threshold=threshold, max_rounds=max_rounds, candidates=candidates, seed=seed,
                           negative_prompt=negative, planner=planner, device=device, dtype=dtype, offload=offload,
                           width=width, height=height, steps=steps, guidance=guidance, cancel=cancel)
    _report(result, as_json)
    raise typer.Exit(_exit_code(result))


def _box_option(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 4:
        _fail(f"--box takes four comma-separated fractions x0,y0,x1,y1 (e.g. 0.5,0.2,1,0.8), got '{text}'")
    return values


@app.command()
@friendly
def edit(
    image: str = typer.Argument(..., help="The image to edit (PNG, JPEG, ...); its sides must be multiples of 8."),
    instruction: str = typer.Argument(..., help="What the image (or, with --box/--mask, the region) should show."),
    mask: Optional[str] = typer.Option(None, "--mask", help="Mask image of the same size: white = may change."),
    box: Optional[str] = typer.Option(None, "--box", help="Region to change: x0,y0,x1,y1 as fractions of the image."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model alias, hub id or diffusers folder."),
    policy: str = typer.Option("edit", "--policy", "-p", help="Shipped policy name or YAML file."),
    candidates: Optional[int] = typer.Option(None, "--candidates", "-n", help="Candidates per round."),
    max_rounds: Optional[int] = typer.Option(None, "--max-rounds", help="Most rounds of candidates."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Denoising steps (default: the model's)."),
    guidance: Optional[float] = typer.Option(None, "--guidance", help="Guidance scale (default: the model's)."),
    seed: Optional[int] = typer.Option(None, help="Base seed."),
    out: str = typer.Option("limner-runs", "--out", "-o", help="Folder for run folders."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
):
    """Edit an existing image: plan the edit, repaint the region, verify, and repair until it passes."""
    from limner.agent.cli.progress import ConsoleProgress
    from limner.agent.runner import run as run_agent

    with ctrl_c_stops() as cancel:
        result = run_agent(instruction, out=out, on_event=ConsoleProgress(quiet or as_json), model=model,
                           policy=policy, seed=seed, candidates=candidates, image=image, mask=mask,
                           box=_box_option(box), max_rounds=max_rounds, steps=steps, guidance=guidance, cancel=cancel)
    _report(result, as_json)
    raise typer.Exit(_exit_code(result))


@app.command()
@friendly
def resume(
    run_id: Optional[str] = typer.Argument(None, help="Run id or run folder."),
    last: bool = typer.Option(False, "--last", help="The newest run."),
    as_json: bool = typer.Option(False, "--json"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
):
    """Continue a run from its last checkpoint (after a kill, a crash, an error or Ctrl-C)."""
    from limner.agent.cli.progress import ConsoleProgress
    from limner.agent.runner import resume as resume_run

    with ctrl_c_stops() as cancel:
        result = resume_run(run_id_or_last(run_id, last), on_event=ConsoleProgress(quiet or as_json), cancel=cancel)
    _report(result, as_json)
    raise typer.Exit(_exit_code(result))


@app.command()
@friendly
def show(
    run_id: Optional[str] = typer.Argument(None, help="Run id or run folder."),
    last: bool = typer.Option(False, "--last", help="The newest run."),
    as_json: bool = typer.Option(False, "--json", help="Print the whole manifest."),
):
    """Show a run: plan, candidates with scores, decisions."""
    from limner.agent.cli.render import render
    from limner.agent._run.store import find_run

    run_id = run_id_or_last(run_id, last)
    store = find_run(run_id)
    if not store.manifest_path.is_file():
        _fail(f"run '{run_id}' has no manifest yet: it stopped before its first round was scored; "
              f"`limner resume {run_id}` continues it")
    manifest = store.read_manifest()
    if as_json:
        typer.echo(json.dumps(manifest, indent=2))
    else:
        render(manifest, store.dir)


@app.command()
@friendly
def runs(
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many, newest first."),
    as_json: bool = typer.Option(False, "--json", help="Print them as JSON."),
):
    """Recent runs: id, status, when, brief (from this home's runs index)."""
    import time

    from limner.agent._run.store import recent_runs

    rows = recent_runs(limit)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo('no run yet: `limner run "..."` starts one')
        return
    for r in rows:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r["created"]))
        typer.echo(f"{r['run_id']:24s} {r['status']:12s} {when}  {(r['prompt'] or '')[:70]}")


@app.command()
@friendly
def verify(
    image: str = typer.Argument(..., help="Image file to score."),
    prompt: str = typer.Argument(..., help="What the image should show."),
    verifier: Optional[list[str]] = typer.Option(None, "--verifier", "-v",
                                                 help="Verifier name; repeat for several (default: clipscore, questions)."),
    planner: str = typer.Option("rules", help="Who writes the questions: rules or llm."),
    answerer: str = typer.Option("auto", help="Who answers the questions: auto, detector, vlm or parser "
                                 "(the shapes world's exact parser)."),
    detector: Optional[str] = typer.Option(None, help="The detector's weights, for --answerer detector "
                                           "(default: google/owlv2-base-patch16-ensemble; shapes-owl in the "
                                           "shapes world; LIMNER_DETECTOR_MODEL)."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
):
    """Score an image against a prompt: per-verifier scores and, for questions, each question's answer (and
    its box, where the answerer finds one)."""
    from limner.agent.cli.render import render_verification
    from limner.agent.verify import verify_image

    questions = {"answerer": answerer, **({"detector": detector} if detector else {})}
    result = verify_image(image, prompt, verifier, planner=planner, options={"questions": questions})
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        render_verification(result)


@app.command()
def models():
    """List model aliases and their settings."""
    from limner.tools.generators.models import MODELS, default_model

    for spec in MODELS.values():
        mark = ("  (default)" if spec.alias == default_model() else "") + ("  grounded" if spec.caps.grounded else "")
        typer.echo(f"{spec.alias:16s} {spec.source}{mark}")
        typer.echo(wrapped(f"{spec.family}, {plural(spec.steps, 'step')}, guidance {spec.guidance:g}, "
                           f"{spec.width}x{spec.height}. {spec.description}", 17, " " * 17))


@app.command()
def policies():
    """List the shipped policies."""
    from limner import policies as shipped
    from limner.agent.policy import load_policy

    for name in shipped.names():
        typer.echo(wrapped(load_policy(name).description, 13, f"{name:12s} "))


@app.command()
def mcp(out: str = typer.Option("limner-runs", "--out", "-o", help="Folder for run folders."),
        allow_read: Optional[list[str]] = typer.Option(None, "--allow-read", help=(
            "A folder whose images the tools may read (repeat for several; default: LIMNER_MCP_ALLOW_READ, else "
            "the working folder; the runs folder always)."))):
    """Serve Limner's tools (generate, edit, verify, answer, resume, manifest) over MCP on stdio. Run ids resolve
    only inside --out; input images only inside the allowed folders."""
    try:
        from limner.agent.integrations.mcp import serve
    except ImportError as exc:
        _fail(f"limner mcp needs the MCP SDK ({exc.name} is missing): pip install 'limner[mcp]'")
    serve(out, allow_read)


def _add_subcommands() -> None:
    from limner.agent.cli.bench import bench_app
    from limner.agent.cli.batch import batch
    from limner.agent.cli.chat import chat
    from limner.agent.cli.llm import llm_app
    from limner.agent.cli.plan import plan
    from limner.agent.cli.pull import doctor, pull
    from limner.agent.cli.serve import serve

    app.add_typer(bench_app, name="bench")
    app.add_typer(llm_app, name="llm")
    app.command("plan")(friendly(plan))
    app.command("chat")(friendly(chat))
    app.command("batch")(friendly(batch))
    app.command("pull")(friendly(pull))
    app.command("doctor")(friendly(doctor))
    app.command("serve")(friendly(serve))


_add_subcommands()


def main() -> None:
    app(prog_name="limner")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
