"""Verifiers and their registry. Adding one: a module with a class, and one line in ``VERIFIERS``."""

from __future__ import annotations

from tools.verifiers.base import Score, Verifier, weighted_mean


def _clipscore(**options):
    from tools.verifiers.clipscore import CLIPScore

    return CLIPScore(**options)


def _vlm_judge(llm=None, **options):
    from tools.verifiers.vlm_judge import VLMJudge

    return VLMJudge(llm, **options)


# name -> factory(llm=..., **options). ``needs_llm`` lists those that call an LLM endpoint.
VERIFIERS = {
    "clipscore": _clipscore,
    "vlm-judge": _vlm_judge,
}
NEEDS_LLM = {"vlm-judge"}


def make_verifier(name: str, *, llm=None, **options) -> Verifier:
    try:
        factory = VERIFIERS[name]
    except KeyError:
        raise ValueError(f"unknown verifier '{name}': choose from {', '.join(VERIFIERS)}") from None
    if name in NEEDS_LLM:
        return factory(llm=llm, **options)
    return factory(**options)


__all__ = ["NEEDS_LLM", "VERIFIERS", "Score", "Verifier", "make_verifier", "weighted_mean"]
