"""Planners turn a prompt into a ``Plan``; ``rules`` is offline, ``llm`` asks an OpenAI-compatible model."""

from __future__ import annotations

from typing import Protocol

from limner.agent.plan import Plan


class Planner(Protocol):
    name: str

    def plan(self, prompt: str) -> Plan: ...

    def replan(self, previous: Plan, critique: str, history: list[dict] | None = None) -> Plan: ...


def resolve_kind(kind: str, llm_configured: bool) -> str:
    """A policy's planner as a run uses it: ``auto`` is the LLM planner when an endpoint is configured, else
    the rules."""
    if kind == "auto":
        return "llm" if llm_configured else "rules"
    return kind


def make_planner(kind: str, llm=None, target=None) -> Planner:
    """``kind`` is 'rules' or 'llm' (resolve 'auto' before calling). ``target``: the ``ModelSpec`` the plan is
    for (the LLM planner is told its family and limits)."""
    if kind == "rules":
        from limner.agent.planners.rules import RulesPlanner

        return RulesPlanner()
    if kind == "llm":
        from limner.agent.planners.llm import LLMPlanner

        return LLMPlanner(llm, target=target)
    raise ValueError(f"unknown planner '{kind}': use rules or llm")
