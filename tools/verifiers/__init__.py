"""Verifiers and their registry. Adding one: a module with a class, and one line in ``VERIFIERS`` (or, from
another distribution, one ``limner.verifiers`` entry point: ``limner.tools.plugins``).

Each entry declares what the verifier needs, so callers read declarations instead of comparing names:
``needs_llm`` (every score calls an LLM endpoint), ``takes_llm`` (it is given the endpoint and may use it),
``needs_plan`` (it is given ``plan_fn``: the plan's checks), ``differentiable`` (a reward for gradient search).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from limner.tools.plugins import extend
from limner.tools.verifiers.base import Score, Verifier


@dataclass(frozen=True)
class Declared:
    """A verifier factory with its declared needs (read without importing the verifier's weights or torch)."""

    factory: Callable[..., Verifier]
    needs_llm: bool = False
    takes_llm: bool = False
    needs_plan: bool = False
    differentiable: bool = False

    def __call__(self, **options) -> Verifier:
        return self.factory(**options)


def _clipscore(**options):
    from limner.tools.verifiers.clipscore import CLIPScore

    return CLIPScore(**options)


def _shapes_clip(**options):
    from limner.tools.verifiers.clipscore import BUILTIN_SHAPES, CLIPScore

    return CLIPScore(**{"model": BUILTIN_SHAPES, "name": "shapes-clip", **options})


def _pickscore(**options):
    from limner.tools.verifiers.pickscore import PickScore

    return PickScore(**options)


def _hpsv2(**options):
    from limner.tools.verifiers.hpsv2 import HPSv2

    return HPSv2(**options)


def _aesthetic(**options):
    from limner.tools.verifiers.aesthetic import Aesthetic

    return Aesthetic(**options)


def _vlm_judge(llm=None, **options):
    from limner.tools.verifiers.vlm_judge import VLMJudge

    return VLMJudge(llm, **options)


def _questions(llm=None, answerer: str = "auto", plan_fn=None, model: str | None = None, mode: str = "batched"):
    from limner.tools.verifiers.answerers import ParserAnswerer, VLMAnswerer
    from limner.tools.verifiers.questions import QuestionVerifier

    if answerer == "auto":
        answerer = "vlm" if llm is not None else "parser"
    if answerer == "parser":
        return QuestionVerifier(ParserAnswerer(), plan_fn=plan_fn)
    if answerer == "vlm":
        return QuestionVerifier(VLMAnswerer(llm, model=model, mode=mode), plan_fn=plan_fn)
    raise ValueError(f"unknown answerer '{answerer}': use parser, vlm or auto")


def _adapt(name: str, loaded) -> Declared:
    """A plugin's entry point: a ``Declared``, or a class/factory whose attributes declare its needs."""
    if isinstance(loaded, Declared):
        return loaded
    return Declared(loaded, needs_llm=bool(getattr(loaded, "needs_llm", False)),
                    takes_llm=bool(getattr(loaded, "takes_llm", getattr(loaded, "needs_llm", False))),
                    needs_plan=bool(getattr(loaded, "needs_plan", False)),
                    differentiable=bool(getattr(loaded, "differentiable", False)))


BUILTIN: dict[str, Declared] = {
    "clipscore": Declared(_clipscore, differentiable=True),
    "shapes-clip": Declared(_shapes_clip, differentiable=True),
    "pickscore": Declared(_pickscore, differentiable=True),
    "hpsv2": Declared(_hpsv2, differentiable=True),
    "aesthetic": Declared(_aesthetic, differentiable=True),
    "vlm-judge": Declared(_vlm_judge, needs_llm=True, takes_llm=True),
    "questions": Declared(_questions, takes_llm=True, needs_plan=True),  # uses the endpoint with a VLM answerer
}
VERIFIERS: dict[str, Declared] = extend("verifiers", dict(BUILTIN), _adapt)


def make_verifier(name: str, *, llm=None, **options) -> Verifier:
    try:
        declared = VERIFIERS[name]
    except KeyError:
        raise ValueError(f"unknown verifier '{name}': choose from {', '.join(VERIFIERS)}") from None
    if declared.takes_llm:
        return declared(llm=llm, **options)
    return declared(**options)


__all__ = ["VERIFIERS", "Declared", "Score", "Verifier", "make_verifier"]
