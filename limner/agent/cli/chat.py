"""``limner chat``: a creative session in the terminal, with the person in the loop.

The run is an ordinary interactive run (``run(..., interactive=True)``): it stops at its plan and after each
round, this loop shows the question and sends the person's answer with ``answer``. Everything lives in the
run's checkpoint, so ``limner chat --resume RUN_ID`` continues exactly where a session stopped, after Ctrl-C,
Ctrl-D or a killed process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import typer

if TYPE_CHECKING:  # rich loads only when a chat starts (``limner --help`` stays light)
    from rich.console import Console


def _show_plan(console: Console, q: dict) -> None:
    from rich.markup import escape

    plan = q["plan"]
    console.print(f"\n[bold]plan v{plan['version']}[/] ({escape(plan['planner'])}): {escape(plan['rewritten_prompt'])}")
    for check in plan["checks"]:
        console.print(escape(f"  check {check['id']}: {check['question']}"))
    for region in (plan.get("layout") or {}).get("regions", []):
        console.print(escape(f"  region {region['phrase']}: [{', '.join(f'{v:.2f}' for v in region['box'])}]"))
    console.print(f"[bold]{escape(q.get('asks') or 'approve the plan?')}[/]  (yes / say what to change / cancel)")


def _show_round(console: Console, q: dict) -> None:
    from rich.markup import escape

    run_dir = q["run_dir"]
    console.print(f"\n[bold]round {q['round']}[/]: {len(q['candidates'])} candidates")
    for c in q["candidates"]:
        console.print(f"  {c['id']}  {c['score']:.3f}  {run_dir}/{c['path']}")
    console.print(f"best so far: {q['best_id']} ({q['best_score']:.3f}, threshold {q['threshold']})")
    for check in q.get("best_checks", []):
        console.print(escape(f"  {'pass' if check['passed'] else 'FAIL'}  {check['question']}"))
    console.print(f"contact sheet: {run_dir}/{q['contact_sheet']}   report: {run_dir}/{q['report']}")
    history = q.get("history") or []
    if history:
        console.print("history: " + escape("  ".join(
            f"{t['from'] or '-'} --{t['kind'] or t['action']}--> {t['head'] or '-'}{' (undone)' if t.get('undone') else ''}"
            for t in history[-4:])))
    asks = q.get("asks") or ""
    console.print(f"[bold]what next?[/] {escape(asks) if not asks.startswith('accept,') else ''}")
    console.print(f"  accept / pick ID / more / say what to change (e.g. {escape(_examples(q.get('plan') or {}))}) / "
                  "undo / back to ID / cancel")


def _examples(plan: dict) -> str:
    """Turns to try, about what this picture holds: a colour change of its first object, a smaller one of its
    last (a smaller object always fits; a bigger one may not), and an addition."""
    names = [o["name"] for o in plan.get("objects", [])] or ["circle"]
    color = next(c for c in ("blue", "green", "red") if c != (plan.get("objects") or [{}])[0].get("color"))
    return (f"'make the {names[0]} {color}', 'make the {names[-1]} smaller', 'add a yellow triangle on the right', "
            f"'remove the {names[-1]}'")


class _ChatProgress:
    """The run's progress, less what each question shows again (the plan, the round's candidates)."""

    def __init__(self):
        from limner.agent.cli.progress import ConsoleProgress

        self.inner = ConsoleProgress()

    def __call__(self, event: dict) -> None:
        if event.get("event") not in {"plan", "candidate"}:
            self.inner(event)


def _ask(console: Console) -> str:
    while True:
        text = console.input("[bold green]> [/]").strip()
        if text:
            return text


def chat(
    prompt: Optional[str] = typer.Argument(None, help="What the image should show (asked for when left out)."),
    resume_id: Optional[str] = typer.Option(None, "--resume", help="Continue a session: its run id or folder."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model alias, hub id or diffusers folder."),
    policy: str = typer.Option("chat", "--policy", "-p", help="Shipped policy name or YAML file."),
    candidates: Optional[int] = typer.Option(None, "--candidates", "-n", help="Candidates per round."),
    seed: Optional[int] = typer.Option(None, help="Base seed."),
    planner: Optional[str] = typer.Option(None, help="rules, llm or auto (overrides the policy)."),
    out: str = typer.Option("limner-runs", "--out", "-o", help="Folder for run folders."),
):
    """A creative session: approve or change the plan, then accept, pick or give feedback after each round."""
    from rich.console import Console

    from limner.agent.cli.common import _report
    from limner.agent.runner import answer, resume, run
    from limner.agent._run.store import new_run_id

    console = Console(highlight=False)
    progress = _ChatProgress()
    run_id = resume_id
    try:
        if resume_id is not None:
            if prompt is not None:
                raise typer.BadParameter("give a prompt or --resume, not both")
            console.print(f"resuming session {resume_id}")
            result = resume(resume_id, on_event=progress)
        else:
            if prompt is None:
                console.print("[bold]What should the image show?[/]")
                prompt = _ask(console)
            run_id = new_run_id()
            console.print(f"session {run_id} (continue it any time with `limner chat --resume {run_id}`)")
            result = run(prompt, out=out, on_event=progress, run_id=run_id, interactive=True, model=model,
                         policy=policy, candidates=candidates, seed=seed, planner=planner)
        run_id = result.run_id
        while result.status == "waiting":
            q = result.question
            (_show_plan if q["kind"] == "plan" else _show_round)(console, q)
            result = answer(run_id, _ask(console), on_event=progress)
    except (KeyboardInterrupt, EOFError):
        if run_id is None:
            raise typer.Exit(130)
        console.print(f"\nsession saved: continue it with `limner chat --resume {run_id}`")
        raise typer.Exit(130)
    _report(result, as_json=False)
    raise typer.Exit(1 if result.status == "failed" else 0)
