"""Score one image against a prompt with any verifiers: ``limner verify`` and the Python API."""

from __future__ import annotations

from pathlib import Path

from agent.config import Settings, load_settings
from agent.errors import UsageError

DEFAULT_VERIFIERS = ("clipscore", "questions")


def verify_image(image_path: str | Path, prompt: str, verifiers: list[str] | None = None,
                 settings: Settings | None = None, planner: str = "rules") -> dict:
    """``{"prompt", "plan", "verifiers": {name: {"score", "raw", "detail", "describe"}}}``."""
    from PIL import Image, UnidentifiedImageError

    from agent.planners import make_planner
    from tools.verifiers import VERIFIERS, make_verifier
    from tools.verifiers.ensemble import score_all

    settings = settings or load_settings()
    names = list(verifiers or DEFAULT_VERIFIERS)
    unknown = [n for n in names if n not in VERIFIERS]
    if unknown:
        raise UsageError(f"unknown verifier '{unknown[0]}': choose from {', '.join(VERIFIERS)}")
    if not prompt.strip():
        raise UsageError("the prompt is empty")
    try:
        with Image.open(image_path) as im:
            image = im.convert("RGB")
    except (OSError, UnidentifiedImageError) as exc:
        raise UsageError(f"cannot read image {image_path}: {exc}") from None
    llm = None
    if settings.llm_configured:
        from agent.llm import LLMClient

        llm = LLMClient(settings)
    try:
        plan = make_planner(planner, llm=llm).plan(prompt).model_dump()
        made = [(n, make_verifier(n, llm=llm, **({"plan_fn": lambda p: plan} if n == "questions" else {})))
                for n in names]
        results = score_all(made, [image], [prompt])
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except RuntimeError as exc:  # missing weights, unreachable endpoint
        raise UsageError(str(exc).splitlines()[0]) from None
    verifier_objects = dict(made)
    return {
        "image": str(image_path), "prompt": prompt, "plan": plan,
        "verifiers": {n: {**results[n][0].to_dict(),
                          "describe": getattr(verifier_objects[n], "describe", lambda: {"name": n})()}
                      for n in names},
    }
