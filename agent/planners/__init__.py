"""Planners turn a prompt into a ``Plan``; ``rules`` is offline, ``llm`` asks an OpenAI-compatible model."""

from __future__ import annotations

from typing import Protocol

from agent.plan import Plan


class Planner(Protocol):
    name: str

    def plan(self, prompt: str) -> Plan: ...

    def replan(self, previous: Plan, critique: str) -> Plan: ...


def make_planner(kind: str, llm=None) -> Planner:
    """``kind`` is 'rules' or 'llm' (resolve 'auto' before calling)."""
    if kind == "rules":
        from agent.planners.rules import RulesPlanner

        return RulesPlanner()
    if kind == "llm":
        from agent.planners.llm import LLMPlanner

        return LLMPlanner(llm)
    raise ValueError(f"unknown planner '{kind}': use rules or llm")
