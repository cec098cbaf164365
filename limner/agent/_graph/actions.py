"""Actions the decide step can choose after a round, and when each applies.

Adding an action is one node (a function in ``limner/agent/_graph/nodes/`` registered in
``_graph.build.NODES``) and one entry here: its name, the graph node it routes to, and
``propose(state, toolbox, policy) -> reason | None``. Policies list the allowed actions in
the order they are considered.

Every search strategy in ``limner.tools.search.STRATEGIES`` is an action that routes to the
generate node. Which strategy runs next is decided by ``choose_strategy``: the policy's
first usable strategy, kept while it improves the best score, and the next one in the
policy's order after a round without progress.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from limner.tools.search import STRATEGIES


@dataclass(frozen=True)
class Action:
    name: str
    node: str
    propose: Callable[[dict, object, object], str | None]
    description: str
    then: str = "generate"  # the node that follows the action's node (unless the action's node is that one)
    needs: str | None = None  # a model-family feature (``Family.lacks``) without which the action cannot run


def usable_strategies(state: dict, tb, policy) -> list[tuple[str, str | None]]:
    """``[(name, why_not), ...]`` for the policy's strategies, in its order (``why_not`` None when usable)."""
    nfe_left = policy.budgets.nfe - state["spent"]["nfe"]
    out = []
    for name in policy.actions:
        if name not in STRATEGIES:
            continue
        why = tb.strategy_unavailable(name, policy.strategy_options.get(name))
        if why is None and nfe_left < STRATEGIES[name].min_nfe(tb.spec, policy.strategy_options.get(name)):
            why = f"{name} needs {STRATEGIES[name].min_nfe(tb.spec, policy.strategy_options.get(name))} NFE, {nfe_left} left"
        out.append((name, why))
    return out


def choose_strategy(state: dict, tb, policy) -> tuple[str | None, str]:
    """The strategy for the next round and why (``None`` when no allowed strategy can run)."""
    usable = [name for name, why in usable_strategies(state, tb, policy) if why is None]
    if not usable:
        return None, "no allowed search strategy can run"
    current = state.get("strategy")
    if current not in usable:
        if current is None:
            return usable[0], f"{usable[0]}: the policy's first usable strategy"
        return usable[0], f"{current} cannot run any more: {usable[0]}"
    if state.get("no_improve", 0) == 0:
        return current, f"{current} improved the best score: continue"
    nxt = usable[(usable.index(current) + 1) % len(usable)]
    if nxt == current:
        return current, f"no progress with {current}, the only usable strategy: continue"
    return nxt, f"no progress with {current} for a round: switch to {nxt}"


def _strategy_proposer(name: str):
    def propose(state: dict, tb, policy) -> str | None:
        chosen, why = choose_strategy(state, tb, policy)
        return f"round {state['round'] + 1}: {why}" if chosen == name else None

    return propose


def _replan(state: dict, tb, policy) -> str | None:
    if state.get("no_improve", 0) < policy.replan_after:
        return None
    if state.get("replans", 0) >= policy.max_replans:
        return None
    if tb.planner_kind == "llm" and state["spent"]["llm_calls"] >= policy.budgets.llm_calls:
        return None
    return (f"no better candidate for {state['no_improve']} round(s): re-plan "
            f"(plan version {state['plan']['version'] + 1})")


def _repair(state: dict, tb, policy) -> str | None:
    from limner.agent._graph.repair import repair_targets
    if len(state.get("repairs", [])) >= policy.max_repairs or tb.spec.caps.guidance == "instruction":
        return None
    targets = repair_targets(state, policy.budgets.nfe - state["spent"]["nfe"], tb.spec.nfe_per_candidate(),
                             policy.population)
    if not targets:
        return None
    t = targets[0]
    erase = f"erase box {t['erase']['box']}, then " if t.get("erase") else ""
    return f"repair: {t['why']}: {erase}inpaint '{t['phrase']}' in box {t['box']}"


def _layout(state: dict, tb, policy) -> str | None:
    from limner.agent._graph.repair import spans_image
    if policy.layout_every_round(tb.spec.caps) or not (state.get("plan") or {}).get("layout") or (
            tb.spec.caps.lacks("regional") and tb.spec.caps.lacks("grounded")):
        return None  # already from the layout every round, or nothing to lay out, or no way to use one here
    spans = spans_image(state)
    return f"regenerate region by region from the layout: {'; '.join(spans)}" if spans else None


def _variation(state: dict, tb, policy) -> str | None:
    from limner.agent._graph.repair import best_candidate, repair_targets

    best = best_candidate(state)
    if best is None or repair_targets(state, population=policy.population) and "repair" in policy.actions:
        return None  # nothing to vary, or a repair applies
    if state.get("no_improve", 0) >= policy.replan_after:
        return None  # rounds stopped helping: leave it to a re-plan, or finish
    if (state.get("brief") or {}).get("box") or (state.get("brief") or {}).get("mask"):
        return "repaint the region the person marked again, with fresh seeds: no repair applies inside it"
    return (f"variations of {best['id']} (img2img, strength {policy.variation_strength}): "
            "no single region to repair")


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in [
        *(Action(s.name, "generate", _strategy_proposer(s.name), s.description) for s in STRATEGIES.values()),
        Action("replan", "replan", _replan, "the planner rewrites the plan from the verifiers' critique",
               then="review_plan"),
        Action("repair", "repair", _repair, "inpaint the box of a missing or wrongly coloured object", then="verify",
               needs="inpaint"),
        Action("variation", "variation", _variation, "img2img variations of the best candidate", then="verify",
               needs="img2img"),
        Action("layout", "generate", _layout, "a round of fresh noise generated region by region from the plan's layout",
               needs="regional"),
    ]
}
