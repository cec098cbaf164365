"""Verifiers and their registry. Adding one: a module with a class, and one line in ``VERIFIERS``."""

from __future__ import annotations

from limner.tools.verifiers.base import Score, Verifier


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


# name -> factory(llm=..., **options). ``NEEDS_LLM``: those that call an LLM endpoint (or may, for questions).
VERIFIERS = {
    "clipscore": _clipscore,
    "shapes-clip": _shapes_clip,
    "pickscore": _pickscore,
    "hpsv2": _hpsv2,
    "aesthetic": _aesthetic,
    "vlm-judge": _vlm_judge,
    "questions": _questions,
}
NEEDS_LLM = {"vlm-judge"}
TAKES_LLM = {"vlm-judge", "questions"}


def make_verifier(name: str, *, llm=None, **options) -> Verifier:
    try:
        factory = VERIFIERS[name]
    except KeyError:
        raise ValueError(f"unknown verifier '{name}': choose from {', '.join(VERIFIERS)}") from None
    if name in TAKES_LLM:
        return factory(llm=llm, **options)
    return factory(**options)


__all__ = ["NEEDS_LLM", "TAKES_LLM", "VERIFIERS", "Score", "Verifier", "make_verifier"]
