"""Score one image against a prompt with any verifiers: ``limner verify`` and the Python API."""

from __future__ import annotations

from pathlib import Path

from limner.agent.config import Settings, load_settings
from limner.agent.errors import UsageError

DEFAULT_VERIFIERS = ("clipscore", "questions")


def verify_image(image_path: str | Path, prompt: str, verifiers: list[str] | None = None,
                 settings: Settings | None = None, planner: str = "rules",
                 options: dict[str, dict] | None = None) -> dict:
    """``{"prompt", "plan", "verifiers": {name: {"score", "raw", "detail", "describe"}}}``. ``options``: per
    verifier name, its options (``{"questions": {"answerer": "detector"}}``)."""
    from limner.tools.images import read_input_image

    from limner.agent.planners import make_planner
    from limner.tools.verifiers import VERIFIERS, make_verifier
    from limner.tools.verifiers.ensemble import score_all

    settings = settings or load_settings()
    names = list(verifiers or DEFAULT_VERIFIERS)
    unknown = [n for n in names if n not in VERIFIERS]
    if unknown:
        raise UsageError(f"unknown verifier '{unknown[0]}': choose from {', '.join(VERIFIERS)}")
    if not prompt.strip():
        raise UsageError("the prompt is empty")
    try:
        image = read_input_image(image_path)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    llm = None
    if settings.llm_configured:
        from limner.agent.llm import LLMClient

        llm = LLMClient(settings)
    notices: list[str] = []
    try:
        from limner.agent.plan import PlanObject
        from limner.agent.planners.rules import in_shapes_world

        plan = make_planner(planner, llm=llm).plan(prompt).model_dump()
        # the shapes world's exact parser answers only prompts of that world; real images need a VLM
        world = "shapes" if in_shapes_world([PlanObject(**o) for o in plan["objects"]]) else "real"
        from limner.tools.verifiers import Where, declaration

        where = Where(world=world, parseable=world == "shapes", llm=llm is not None)
        made, weights = [], []
        for n in names:
            prepared = declaration(n).prepare((options or {}).get(n, {}), where)
            if prepared.notice:
                notices.append(prepared.notice)
            if prepared.options is None:
                continue
            if prepared.uses_llm and llm is None:
                raise UsageError(f"verifier {n} needs an LLM endpoint with these options (it asks a VLM): "
                                 "set LIMNER_LLM_BASE_URL")
            pull = f"{n}:{prepared.options['answerer']}" if "answerer" in prepared.options else n  # pull's syntax
            weights += [(pull, ref) for ref in declaration(n).required_weights(prepared.options, world)]
            made.append((n, make_verifier(n, llm=llm, plan_fn=lambda p: plan, **prepared.options)))
        _check_weights(made, weights)
        results = score_all(made, [image], [prompt])
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except RuntimeError as exc:  # missing weights, unreachable endpoint
        raise UsageError(str(exc).splitlines()[0]) from None
    verifier_objects = dict(made)
    return {
        "image": str(image_path), "prompt": prompt, "plan": plan, "world": world, "notices": notices,
        "verifiers": {n: {**results[n][0].to_dict(),
                          "describe": getattr(verifier_objects[n], "describe", lambda: {"name": n})()}
                      for n in verifier_objects},
    }


def _check_weights(made: list, declared: list[tuple[str, str]]) -> None:
    """Weights missing offline are one line naming ``limner pull``, before anything loads: those the
    verifiers' declarations name and those the made verifiers hold."""
    from limner.tools.generators.model_files import offline
    from limner.tools.verifiers.requirements import is_present

    held = [(name, ref) for name, verifier in made
            for ref in [getattr(verifier, "model_id", None), getattr(verifier, "processor_id", None)]]
    for pull, ref in declared + held:  # ``pull``: what ``limner pull --verifier`` takes (questions:detector)
        if ref and offline() and not is_present(ref):
            raise UsageError(f"verifier {pull.partition(':')[0]} needs {ref}, which is not in the local Hugging Face "
                             f"cache and HF_HUB_OFFLINE=1: run `limner pull --verifier {pull}` once online")
