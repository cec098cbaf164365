"""``limner plan``: the plan a run would start from (rewritten prompt, checks, layout, planner), nothing generated."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console


def plan(
    prompt: Optional[str] = typer.Argument(None, help="What the image should show."),
    file: Optional[Path] = typer.Option(None, "--file", "-f", help="Plan every prompt of a file: one per line, "
                                        "or a GenEval metadata file (JSON lines with a 'prompt')."),
    planner: Optional[str] = typer.Option(None, help="rules, llm or auto (default: the policy's)."),
    policy: str = typer.Option("default", "--policy", "-p", help="Shipped policy name or YAML file."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="The model the plan is for."),
    as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON (one line per prompt with --file)."),
):
    """Print the plan for a prompt without generating: rewritten prompt, checks, layout and which planner."""
    from limner.agent.errors import UsageError
    from limner.agent.planners.preview import plan_prompt, read_prompts

    if (prompt is None) == (file is None):
        raise UsageError("give a PROMPT or --file FILE (one of them)")
    prompts = read_prompts(file) if file is not None else [prompt]
    console = Console(highlight=False)
    for n, text in enumerate(prompts):
        result = plan_prompt(text, planner=planner, policy=policy, model=model)
        if as_json:
            typer.echo(json.dumps(result, ensure_ascii=False, separators=(",", ":") if file else None,
                                  indent=None if file else 2))
            continue
        if n:
            console.print()
        render_plan(result, console)


def render_plan(result: dict, console: Console) -> None:
    from rich.markup import escape

    plan = result["plan"]
    console.print(f"[bold]prompt[/]    {escape(result['prompt'])}")
    console.print(f"[bold]planner[/]   {escape(plan['planner'])} (for {escape(result['model'])})")
    console.print(f"[bold]rewritten[/] {escape(plan['rewritten_prompt'])}")
    from limner.agent.plan import describe_parts

    parts = describe_parts(plan)
    for label, key in (("entity", "entities"), ("relation", "relations"), ("exclude", "exclusions"),
                       ("global", "global"), ("UNPLANNED", "unplanned"), ("crosscheck", "crosscheck")):
        for line in parts[key]:
            console.print(f"  {label} {escape(line)}")
    for check in plan["checks"]:
        after = f"  (after {', '.join(check['depends_on'])})" if check["depends_on"] else ""
        console.print(f"  check {escape(check['id'])}: {escape(check['question'])}{after}")
    layout = plan.get("layout")
    if layout:
        for region in layout["regions"]:
            box = ", ".join(f"{v:.2f}" for v in region["box"])
            console.print(f"  region {escape(region['phrase'])}: [{box}]")
    else:
        console.print("  no layout")
    console.print(f"  [dim]{escape(plan['rationale'])}[/]")
    for line in (result.get("fallback"), result.get("notice")):
        if line:
            console.print(f"note: {escape(line)}")
