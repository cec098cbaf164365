"""``limner pull`` and ``limner doctor``: fetch, or report, the weights a model and a policy need."""

from __future__ import annotations

from typing import Optional

import typer

from limner.agent.cli.common import plural, wrapped


def _rows(reqs) -> list[str]:
    return [f"  {'ok     ' if r.present else 'MISSING'} {r.what:22s} {r.ref}" + (f" @ {r.revision[:12]}" if r.revision else "")
            for r in reqs]


def pull(
    model: Optional[str] = typer.Argument(None, help="Model alias, hub id or folder (default: LIMNER_MODEL or the embedded model)."),
    policy: str = typer.Option("default", "--policy", "-p", help="Also fetch this policy's verifier weights."),
    verifier: Optional[list[str]] = typer.Option(None, "--verifier", "-v", help="Only these verifiers' weights; repeatable (questions:detector: the detector answerer's)."),
    revision: Optional[str] = typer.Option(None, "--revision", help="A hub revision (commit, branch or tag) of the model."),
):
    """Download everything a run with MODEL and POLICY needs (pipeline and verifier weights)."""
    from limner.agent.pull import pull as pull_weights

    done = pull_weights(model, policy, verifier, revision=revision, echo=typer.echo)
    for line in _rows(done):
        typer.echo(line)
    if any(not r.present for r in done):
        raise typer.Exit(1)


def doctor(
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model alias, hub id or folder."),
    policy: str = typer.Option("default", "--policy", "-p", help="Shipped policy name or YAML file."),
):
    """Say what a run with the current settings needs, what is present, what is missing, and how to fetch it."""
    from limner.agent.config import load_settings
    from limner.agent.pull import requirements
    from limner.tools.generators import default_model
    from limner.tools.generators.model_files import offline

    settings = load_settings()
    name = model or default_model()
    reqs = requirements(name, policy)
    typer.echo(f"model    {name}   policy {policy}   HF_HUB_OFFLINE={'1' if offline() else 'unset'}")
    try:
        from limner.tools.generators import resolve_model

        spec = resolve_model(name)
        caps = spec.caps
        typer.echo(wrapped(f"{caps.label} ({caps.denoiser}); {plural(spec.steps, 'step')}, guidance "
                           f"{spec.guidance:g}, {spec.width}x{spec.height}, prompts up to {spec.max_text_tokens} tokens",
                           9, "family   "))
        lacking = [f"{feat}: {caps.lacks(feat)}" for feat in ("explicit_noise", "loop", "regional", "inpaint", "img2img",
                                                              "negative_prompt") if caps.lacks(feat)]
        for line in lacking:
            typer.echo(wrapped(line, 9, "  lacks  "))
    except ValueError:
        pass  # not cached yet: the requirement rows say so
    llm = (f"{settings.llm_base_url or 'OpenAI'} ({settings.llm_model or 'gpt-4o-mini'})" if settings.llm_configured
           else "none (the rules planner plans; questions outside the shapes world are skipped)")
    typer.echo(wrapped(llm, 9, "LLM      "))
    for line in _rows(reqs):
        typer.echo(line)
    missing = [r for r in reqs if not r.present]
    if missing:
        typer.echo(f"fetch them with: limner pull {name} --policy {policy}")
        raise typer.Exit(1)
    typer.echo("everything this run needs is here")
