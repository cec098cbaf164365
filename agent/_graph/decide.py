"""The decide step's logic, as plain functions of the state: finish, or which action next, and why."""

from __future__ import annotations

from limner.agent._graph.actions import ACTIONS, usable_strategies
from limner.agent._run.checks import check_tally
from limner.tools.search import STRATEGIES


def round_size(state: dict, tb) -> tuple[int, str]:
    """How many candidates the next round may have without exceeding any budget, and what limits it.

    The NFE a round may spend is what is left of the budget; each strategy fits its round into that
    (``min_nfe`` says what its smallest round costs), so here NFE only limits plain samples.
    """
    policy, spent = tb.policy, state["spent"]
    budgets = policy.budgets
    cost = tb.spec.nfe_per_candidate()
    nfe_left = budgets.nfe - spent["nfe"]
    limits = [(policy.candidates_per_round, "candidates per round"),
              (nfe_left // cost, f"NFE budget spent: {nfe_left} of {budgets.nfe} left, one candidate costs {cost}")]
    per_llm = tb.llm_calls_per_candidate(state.get("plan"))  # the plan's checks are known before any round
    if per_llm:
        llm_left = budgets.llm_calls - spent["llm_calls"]
        limits.append((llm_left // per_llm, f"LLM call budget spent: {llm_left} of {budgets.llm_calls} left, "
                                             f"scoring one candidate takes {per_llm}"))
    n, reason = min(limits, key=lambda item: item[0])
    return max(0, n), reason


def _obey(state: dict, tb, directive: dict) -> dict:
    action, reason = directive["action"], directive["reason"]
    if action == "finish":
        return {"action": "finish", "reason": reason, "round_size": 0}
    if state["round"] >= tb.policy.max_rounds:
        return {"action": "finish", "round_size": 0,
                "reason": f"{reason}, but the round budget is spent ({state['round']} of {tb.policy.max_rounds})"}
    n, limit = round_size(state, tb)
    if n == 0:
        return {"action": "finish", "reason": f"{reason}, but {limit}", "round_size": 0}
    return {"action": action, "reason": reason, "round_size": n}


def decide(state: dict, tb) -> dict:
    """``{"action": name | "finish", "reason": str, "round_size": int}``; checks run in a fixed order."""
    policy, spent = tb.policy, state["spent"]
    directive = state.get("directive")
    if directive:  # a person's answer in a chat: obeyed when the budgets allow it
        return _obey(state, tb, directive)
    best = state.get("best_score")
    if best is not None and best >= policy.threshold:
        tally = check_tally(next((c for c in state.get("candidates", []) if c["id"] == state["best_id"]), None))
        if not tally["failed"]:  # a failed check keeps the run working, whatever the mean says
            checks = f", all {tally['of']} checks pass" if tally["of"] else ""
            return {"action": "finish", "reason": f"threshold reached: best score {best:.3f} >= {policy.threshold}"
                    f"{checks} ({state['best_id']})", "round_size": 0}
    if state["round"] >= policy.max_rounds:
        return {"action": "finish", "reason": f"round budget spent: {state['round']} of {policy.max_rounds} rounds",
                "round_size": 0}
    n, limit = round_size(state, tb)
    if n == 0:
        return {"action": "finish", "reason": limit, "round_size": 0}
    last = state.get("last_round") or {}
    if last.get("n"):
        estimate = (spent["seconds"] - last["start"]) * n / last["n"]
        left = policy.budgets.seconds - spent["seconds"]
        if estimate > left:
            return {"action": "finish", "round_size": 0,
                    "reason": f"time budget: {left:.1f}s of {policy.budgets.seconds:g}s left, "
                              f"the next round would take about {estimate:.1f}s"}
    elif spent["seconds"] >= policy.budgets.seconds:
        return {"action": "finish", "round_size": 0, "reason": f"time budget spent: {spent['seconds']:.1f}s"}
    # allowed actions and strategies this model cannot do, with the reason: recorded with the decision
    skipped = [why for why in (STRATEGIES[n].unavailable(tb.spec, has_scorer=True, has_reward=True,
                                                         options=policy.strategy_options.get(n))
                               for n in policy.actions if n in STRATEGIES) if why]
    for name in policy.actions:
        action = ACTIONS[name]
        lacks = tb.spec.caps.lacks(action.needs) if action.needs else None
        if lacks:
            skipped.append(f"{name}: {lacks}")
            continue
        reason = action.propose(state, tb)
        if reason:
            return {"action": name, "reason": reason, "round_size": n, **({"skipped": skipped} if skipped else {})}
    why_not = "; ".join(dict.fromkeys([why for _, why in usable_strategies(state, tb) if why] + skipped))
    return {"action": "finish", "reason": "no allowed action applies" + (f" ({why_not})" if why_not else ""),
            "round_size": 0}
