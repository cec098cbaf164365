"""Plans without generating: ``limner plan`` and ``plan_prompt`` show what a run would aim for and check.

``plan_prompt`` resolves the planner as a run does (the policy's, ``auto``: the LLM planner when an endpoint is
configured, else the rules), plans, and says when the plan asks the model for what it cannot draw. Nothing is
written but the LLM call log, and torch is not imported.
"""

from __future__ import annotations

import json
from pathlib import Path

from limner.agent.errors import UsageError
from limner.agent.plan import Plan


def outside_notice(plan: dict, spec) -> str | None:
    """A warning when the plan asks the embedded shapes model (``spec``) for what it cannot draw, or None."""
    if not spec.draws_shapes:
        return None
    from limner.agent.planners.rules import SHAPES_WORLD

    outside = sorted({o["name"] for o in plan.get("objects", []) if o["name"] not in SHAPES_WORLD})
    if plan.get("objects") and not outside:
        return None
    what = ", ".join(f"'{name}'" for name in outside) if outside else f"'{plan['prompt'][:60]}'"
    shapes = ", ".join(f"{name}s" for name in SHAPES_WORLD[:-1]) + f" and {SHAPES_WORLD[-1]}s"
    verb = "are" if len(outside) > 1 else "is"
    return (f"model {spec.alias} draws only {shapes}: {what} {verb} outside what it can draw, so its images "
            "will not show it; use --model for a real model")


def plan_prompt(prompt: str, *, planner: str | None = None, policy: str = "default", model: str | None = None,
                settings=None) -> dict:
    """``{"prompt", "planner", "model", "plan", "notice"}`` for ``prompt``: the plan a run would start from.
    Raises ``UsageError`` (one line) on a bad planner, policy or model, or an LLM planner with no endpoint."""
    from limner.agent.config import Settings
    from limner.agent.errors import LLMError
    from limner.agent.planners import make_planner, resolve_kind
    from limner.agent.policy import load_policy
    from limner.tools.generators.models import resolve_model

    if not prompt.strip():
        raise UsageError("the prompt is empty: say what the image should show")
    settings = settings or Settings()
    kind = planner or load_policy(policy).planner
    if kind not in ("rules", "llm", "auto"):
        raise UsageError(f"unknown planner '{kind}': use rules, llm or auto")
    kind = resolve_kind(kind, settings.llm_configured)
    if kind == "llm" and not settings.llm_configured:
        raise UsageError("the llm planner needs an LLM endpoint: set LIMNER_LLM_BASE_URL and LIMNER_LLM_MODEL "
                         "(or OPENAI_API_KEY), or use --planner rules")
    try:
        spec = resolve_model(model)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    llm = None
    if kind == "llm":
        from limner.agent.llm import home_client

        llm = home_client(settings)
    note = None
    try:
        made: Plan = make_planner(kind, llm=llm, target=spec).plan(prompt)
    except LLMError as exc:  # as a run does: the rules planner stands in, and the plan says so
        made, note = make_planner("rules").plan(prompt), f"LLM planner failed ({exc}); used the rules planner"
    plan = made.model_dump()
    return {"prompt": prompt, "planner": made.planner, "model": spec.alias, "plan": plan,
            "notice": outside_notice(plan, spec), "fallback": note}


def read_prompts(path: Path) -> list[str]:
    """Prompts from a file: one per line, or a GenEval metadata file (JSON lines with a ``prompt``)."""
    if not path.is_file():
        raise UsageError(f"prompt file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text") from None
    prompts = []
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UsageError(f"{path}:{n}: not valid JSON ({exc.msg} at column {exc.colno})") from None
            if not isinstance(obj, dict) or not isinstance(obj.get("prompt"), str) or not obj["prompt"].strip():
                raise UsageError(f"{path}:{n}: a JSON line needs a non-empty string 'prompt'")
            line = obj["prompt"]
        prompts.append(line)
    if not prompts:
        raise UsageError(f"{path} holds no prompts")
    return prompts
