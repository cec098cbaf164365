"""Actions the decide step can choose after a round, and when each applies.

Adding an action is one node (a function in ``agent/_nodes.py`` registered in
``NODE_BUILDERS``) and one entry here: its name, the graph node it routes to, and
``propose(state, toolbox) -> reason | None``. Policies list the allowed actions in
the order they are considered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Action:
    name: str
    node: str
    propose: Callable[[dict, object], str | None]
    description: str
    then: str = "generate"  # the node that follows the action's node (unless the action's node is that one)


def _fresh_noise(state: dict, tb) -> str | None:
    return f"round {state['round'] + 1}: fresh noise"


def _replan(state: dict, tb) -> str | None:
    policy = tb.policy
    if state.get("no_improve", 0) < policy.replan_after:
        return None
    if state.get("replans", 0) >= policy.max_replans:
        return None
    if tb.planner_kind == "llm" and state["spent"]["llm_calls"] >= policy.budgets.llm_calls:
        return None
    return (f"no better candidate for {state['no_improve']} round(s): re-plan "
            f"(plan version {state['plan']['version'] + 1})")


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in [
        Action("fresh_noise", "generate", _fresh_noise, "another round of candidates from fresh seeds"),
        Action("replan", "replan", _replan, "the planner rewrites the plan from the verifiers' critique"),
    ]
}
