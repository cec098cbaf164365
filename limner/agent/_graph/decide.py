"""The decide step's logic, as plain functions of the state: finish, or which action next, and why."""

from __future__ import annotations

from limner.agent._graph.actions import ACTIONS, usable_strategies
from limner.agent._run.checks import check_tally
from limner.tools.search import STRATEGIES


def round_size(state: dict, tb, policy, action: str | None = None) -> tuple[int, str]:
    """How many candidates the next round (of ``action``; default: the one decided) may have without exceeding
    any budget, and what limits it; with known pass rates, no more than the policy's confidence needs.

    The NFE a round may spend is what is left of the budget; each strategy fits its round into that
    (``min_nfe`` says what its smallest round costs), so here NFE only limits plain samples.
    """
    spent = state["spent"]
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
    sized = expected_need(state, tb, policy, action or state.get("next_action") or "initial")
    wanted = (state.get("brief") or {}).get("images") or 0
    if sized is not None and sized["candidates"] < wanted:  # the caller wants that many images back
        sized = {**sized, "candidates": wanted, "why": f"{wanted} images were asked for"}
    if sized is not None:
        limits.append((sized["candidates"], sized["why"]))
    n, reason = min(limits, key=lambda item: item[0])
    return max(0, n), reason


def context_of(state: dict) -> str:
    """What the next round has to fix: the best candidate's first failing kind, or the plan's hardest kind."""
    from limner.agent._graph.rates import failure_of, plan_context
    from limner.agent._graph.repair import best_candidate

    best = best_candidate(state)
    if best is None or best.get("plan_version") != (state.get("plan") or {}).get("version"):
        return plan_context(state.get("plan"))  # nothing made for this plan yet
    return failure_of(best) or "unlocalised"  # no check fails, yet the score is short of the threshold


def from_layout(tb, policy, action: str) -> bool:
    return action == "layout" or (action in STRATEGIES or action == "initial") and bool(
        policy.layout_every_round(tb.spec.caps))


def expected(state: dict, tb, policy, action: str) -> dict | None:
    """The measured rate of ``action`` in this state's context: ``{"key", "context", "p", "tries",
    "nfe_per_candidate"}``, or None when there is no table or too few tries."""
    from limner.agent._graph.rates import action_key

    rates = tb.rates
    if rates is None:
        return None
    key, context = action_key(action, from_layout(tb, policy, action)), context_of(state)
    found = rates.estimate(key, context)
    return None if found is None else {"key": key, "context": context, **found}


def expected_need(state: dict, tb, policy, action: str) -> dict | None:
    from limner.agent._graph.rates import candidates_for

    if action in ("repair", "variation", "replan") or state.get("directive"):
        return None  # these size their own rounds
    rate = expected(state, tb, policy, action)
    if rate is None:
        return None
    n = candidates_for(rate["p"], policy.round_confidence)
    chance = 1 - (1 - rate["p"]) ** n
    return {"candidates": n, "rate": rate,
            "why": f"expected pass rate {rate['p']:.2f} per candidate ({rate['key']}, {rate['context']}, "
                   f"{rate['tries']} measured): {n} give {chance:.0%} >= {policy.round_confidence:.0%}"}


def _obey(state: dict, tb, policy, directive: dict) -> dict:
    action, reason = directive["action"], directive["reason"]
    if action == "finish":
        return {"action": "finish", "reason": reason, "round_size": 0}
    if state["round"] >= policy.max_rounds:
        return {"action": "finish", "round_size": 0,
                "reason": f"{reason}, but the round budget is spent ({state['round']} of {policy.max_rounds})"}
    n, limit = round_size(state, tb, policy)
    if n == 0:
        return {"action": "finish", "reason": f"{reason}, but {limit}", "round_size": 0}
    return {"action": action, "reason": reason, "round_size": n}


def cannot_be_judged(state: dict) -> str | None:
    """Why more rounds cannot help, or None: the run's question verifier answered none of the plan's checks on
    any candidate made for it (a class the detector was never taught, a free-form brief with no VLM), so no
    candidate can ever pass; the plan's warning (the model cannot draw it), if any, is part of the reason."""
    plan = state.get("plan") or {}
    last_plan = next((d for d in reversed(state.get("decisions", [])) if d.get("step") in ("plan", "replan")), {})
    made = [c for c in state.get("candidates", []) if c.get("plan_version") == plan.get("version")]
    if not plan.get("checks") or not made:
        return None
    tallies = [check_tally(c) for c in made]
    if any(t["of"] for t in tallies) or not any(t["unanswered"] for t in tallies):
        return None  # some check was answered, or no question verifier reads the checks at all
    why = f", and {last_plan['warning'].split(':')[0]}" if last_plan.get("warning") else ""
    return (f"no verifier can answer any of the plan's {len(plan['checks'])} checks on {len(made)} candidates{why}: "
            "more rounds cannot be judged, so they would not help")


def decide(state: dict, tb, policy) -> dict:
    """``{"action": name | "finish", "reason": str, "round_size": int}``; checks run in a fixed order."""
    spent = state["spent"]
    directive = state.get("directive")
    if directive:  # a person's answer in a chat: obeyed when the budgets allow it
        return _obey(state, tb, policy, directive)
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
    hopeless = cannot_be_judged(state)
    if hopeless:
        return {"action": "finish", "reason": hopeless, "round_size": 0}
    n, limit = round_size(state, tb, policy)
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
    proposals = []
    for name in policy.actions:
        action = ACTIONS[name]
        lacks = tb.spec.caps.lacks(action.needs) if action.needs else None
        if lacks:
            skipped.append(f"{name}: {lacks}")
            continue
        reason = action.propose(state, tb, policy)
        if reason:
            proposals.append((name, reason))
    if proposals:
        name, reason, rates = choose(state, tb, policy, proposals)
        n, limit = round_size(state, tb, policy, name)
        if n == 0:
            return {"action": "finish", "reason": f"{reason}, but {limit}", "round_size": 0}
        return {"action": name, "reason": reason, "round_size": n, **({"rates": rates} if rates else {}),
                **({"skipped": skipped} if skipped else {})}
    why_not = "; ".join(dict.fromkeys([why for _, why in usable_strategies(state, tb, policy) if why] + skipped))
    return {"action": "finish", "reason": "no allowed action applies" + (f" ({why_not})" if why_not else ""),
            "round_size": 0}


def choose(state: dict, tb, policy, proposals: list[tuple[str, str]]) -> tuple[str, str, dict]:
    """Among the actions that apply (in the policy's order), the one with the most expected passes per NFE where
    the rates of every rival are known; a re-plan that applies comes first (rounds stopped helping); without
    rates, the policy's order. Returns the action, its reason and the rates read (recorded with the decision)."""
    first, reason = proposals[0]
    if first == "replan" or len(proposals) == 1:
        rate = expected(state, tb, policy, first) if first != "replan" else None
        return first, reason, ({first: rate} if rate else {})
    rates = {name: expected(state, tb, policy, name) for name, _ in proposals}
    if any(r is None for r in rates.values()):
        return first, reason + " (the policy's order: no measured rate for " + ", ".join(
            n for n, r in rates.items() if r is None) + ")", {n: r for n, r in rates.items() if r}
    for r in rates.values():
        r["gain_per_nfe"] = round(r["p"] / max(1.0, r["nfe_per_candidate"]), 6)
    best = max(proposals, key=lambda item: (rates[item[0]]["gain_per_nfe"], -proposals.index(item)))
    r = rates[best[0]]
    return best[0], (f"{best[1]} (expected {r['p']:.2f} passes per candidate at {r['nfe_per_candidate']:g} NFE, "
                     f"the best of {len(proposals)} that apply)"), rates
