"""The graph's state: JSON-safe values only (paths, hashes, seeds, parameters, scores)."""

from __future__ import annotations

import operator
from typing import Annotated, TypedDict


class Spent(TypedDict):
    rounds: int
    nfe: int
    llm_calls: int
    seconds: float
    verifier_calls: int


class State(TypedDict, total=False):
    run_id: str
    run_dir: str
    brief: dict  # limner.agent.brief.Brief as dict
    policy: dict  # limner.agent.policy.Policy as dict
    model: dict  # limner.tools.generators.ModelSpec as dict, after overrides
    planner_kind: str  # "rules" or "llm"
    base_seed: int
    plan: dict  # limner.agent.plan.Plan as dict (the current one)
    plans: Annotated[list[dict], operator.add]  # every plan, in order
    round: int  # rounds generated so far
    seed_cursor: int  # candidates drawn so far (the next candidate's seed index)
    pending: list[dict]  # candidates generated this round, not yet scored
    candidates: Annotated[list[dict], operator.add]  # scored candidates
    best_id: str | None
    best_score: float | None
    no_improve: int  # rounds in a row without a better best score
    replans: int
    last_round: dict  # {"n": candidates, "start": spent seconds when it began}, for time estimates
    next_action: str
    strategy: str | None  # the search strategy of the last round (None after intake or a re-plan)
    search_memo: dict  # each strategy's notes between its rounds (e.g. zero_order's pivot)
    repairs: list[dict]  # repair rounds so far: {"parent", "object", "round"}
    rounds_log: Annotated[list[dict], operator.add]  # per round: strategy, parameters, NFE, verifier calls
    decisions: Annotated[list[dict], operator.add]
    spent: Spent
    status: str  # running, passed, best_effort, unverified, failed
    stop_reason: str
    report: dict  # files drawn for people, relative to the run folder (e.g. {"layout": "layout.png"})
    final: str | None  # path of final.png relative to the run folder
    interactive: bool  # a chat session: stop for the person's answer at each plan and after each round
    directive: dict | None  # what the person's last answer asks for ({"action", "reason", ...}); decide obeys it
    chat: Annotated[list[dict], operator.add]  # the conversation: each question's answer and how it was read
    undone: Annotated[list[int], operator.add]  # indexes into ``chat`` of turns an ``undo`` took back
    dropped_verifiers: dict  # verifier name -> why it was left out (its LLM failed); the rest judge from then on
    goal_since: int  # candidates before this index were made for what the image showed before a person changed it


def empty_spent() -> Spent:
    return Spent(rounds=0, nfe=0, llm_calls=0, seconds=0.0, verifier_calls=0)
