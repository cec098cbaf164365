"""The chat nodes: where an interactive run stops for a person (LangGraph interrupts).

``review_plan`` follows every plan and re-plan; ``review`` follows every verified round. In a run that is not
interactive both pass straight through. In a chat, each calls ``interrupt(question)``: the graph stops there
(checkpointed), and the person's answer comes back as the value of ``interrupt`` when the run is continued
with ``Command(resume=answer)``. The answer is read into a ``Feedback`` (``limner.agent._graph.feedback``) and stored as a
``directive`` that the next step obeys: ``decide`` checks every directive against the budgets first.
"""

from __future__ import annotations

from limner.agent._graph.nodes.kit import _charge, _node
from limner.agent.errors import LimnerError

SCALE_MARGIN = 0.04  # an edited object's box is grown by this much more, so its edge blends in


def _read(tb, policy, state: dict, answer: str, stage: str, candidates: list[dict]):
    from limner.agent._graph import feedback

    plan = state["plan"]
    with tb.llm_session(policy.budgets.llm_calls - state["spent"]["llm_calls"]) as used:
        llm = tb.llm if (tb.planner_kind == "llm" and tb.llm is not None and tb.llm.can_call()) else None
        try:
            fb = feedback.read(answer, stage, plan, candidates, llm=llm, history=state.get("chat", []))
            how = "llm" if llm is not None else "rules"
        except LimnerError as exc:  # the LLM could not read it: the offline reading still can
            fb, how = feedback.read(answer, stage, plan, candidates), f"rules (the LLM failed: {exc})"
    return fb, how, used["calls"]


def _question(state: dict, stage: str) -> dict:
    base = {"kind": stage, "run_id": state["run_id"], "run_dir": state["run_dir"], "plan": state["plan"]}
    if stage == "plan":
        return {**base, "asks": "approve the plan, change it in your words, or cancel"}
    rnd = state["round"]
    this_round = [c for c in state["candidates"] if c.get("round") == rnd]
    best = next((c for c in state["candidates"] if c["id"] == state.get("best_id")), {})
    checks = [{"question": q["question"], "passed": q["passed"]} for s in (best.get("scores") or {}).values()
              for q in (s.get("detail") or {}).get("questions", [])]
    return {**base, "round": rnd, "best_id": state.get("best_id"), "best_score": state.get("best_score"),
            "best_checks": checks,
            "threshold": state["policy"]["threshold"], "spent": state["spent"],
            "candidates": [{k: c.get(k) for k in ("id", "path", "score")} for c in this_round],
            "contact_sheet": "contact.png", "report": "report.html",
            "asks": "accept, pick a candidate (e.g. 'pick c0002'), ask for more, or say what to change"}


@_node("review_plan")
def review_plan(state: dict, tb, policy) -> dict:
    """A chat stops here after each plan: approve (generate), change (re-plan with the words) or cancel."""
    if not state.get("interactive"):
        return {"directive": None}
    from langgraph.types import interrupt

    answer = interrupt(_question(state, "plan"))
    fb, how, calls = _read(tb, policy, state, answer, "plan", [])
    directive = {"action": {"accept": "generate", "cancel": "finish", "replan": "replan"}[fb.action],
                 "reason": f"the person answered: {answer!r}", "request": fb.request}
    turn = {"stage": "plan", "plan_version": state["plan"]["version"], "answer": answer,
            "read_as": fb.model_dump(exclude_defaults=True), "read_by": how}
    update = {"directive": directive, "chat": [turn], "spent": _charge(state, llm_calls=calls)}
    if directive["action"] == "finish":
        update |= {"next_action": "finish", "stop_reason": "the person cancelled at the plan"}
    return update



def route_after_plan(state: dict) -> str:
    directive = state.get("directive") or {}
    return {"finish": "finish", "replan": "replan"}.get(directive.get("action"), "generate")


def _scaled(box: list[float], scale: float) -> list[float]:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    hw, hh = (box[2] - box[0]) * scale / 2 + SCALE_MARGIN, (box[3] - box[1]) * scale / 2 + SCALE_MARGIN
    return [round(max(0.0, cx - hw), 4), round(max(0.0, cy - hh), 4),
            round(min(1.0, cx + hw), 4), round(min(1.0, cy + hh), 4)]


def edit_target(state: dict, fb, plan: dict) -> dict | None:
    """The repair target a person's edit asks for, or None when the object cannot be found in the image."""
    from limner.agent._graph.repair import _grow, _phrase, _region_box, candidate_findings

    parent_id = fb.candidate or state["best_id"]
    parent = next(c for c in state["candidates"] if c["id"] == parent_id)
    found = {f["index"]: f for f in candidate_findings(parent) if f["kind"] == "object"}
    box = (found.get(fb.object) or {}).get("box") or _region_box(plan, fb.object)
    if box is None:
        return None
    phrase = _phrase(plan, fb.object)
    if fb.scale != 1.0:
        phrase = phrase.replace("a ", "a large " if fb.scale > 1 else "a small ", 1)
    target = {"parent": parent_id, "object": f"person:{fb.object}", "status": "requested",
              "box": _scaled(box, fb.scale), "phrase": phrase,
              "why": f"the person asked to repaint the {plan['objects'][fb.object]['name']}"}
    if fb.color and fb.scale == 1.0:  # the object stays where and what it is: only its colour changes
        target["recolor"] = True
    if fb.scale < 1.0:  # the old, larger object must go first
        rest = [_phrase(plan, i) for i in range(len(plan["objects"])) if i != fb.object]
        target["erase"] = {"box": _grow(box, SCALE_MARGIN),
                           "prompt": " and ".join(rest) or (plan.get("layout") or {}).get("background", "")}
    return target


@_node("review")
def review(state: dict, tb, policy) -> dict:
    """A chat stops here after each round: accept, pick, more, an edit of one object, or a new plan."""
    if not state.get("interactive"):
        return {"directive": None}
    from langgraph.types import interrupt

    from limner.agent.planners.rules import recolored
    from limner.agent.plan import Plan
    from limner.agent._run.report import write_contact_sheet, write_report

    write_contact_sheet(tb.store, state["candidates"], state.get("best_id"))
    write_report(tb.store, state)
    answer = interrupt(_question(state, "round"))
    rivals = state["candidates"][state.get("goal_since", 0):]
    fb, how, calls = _read(tb, policy, state, answer, "round", rivals)
    said = f"the person answered: {answer!r}"
    update: dict = {"spent": _charge(state, llm_calls=calls)}
    directive = {"action": "finish", "reason": said}
    if fb.action == "pick":
        picked = next(c for c in state["candidates"] if c["id"] == fb.candidate)
        update |= {"best_id": picked["id"], "best_score": picked["score"]}
        directive["reason"] = f"{said}: finish with {picked['id']}"
    elif fb.action == "cancel":
        directive["reason"] = f"{said}: cancelled"
    elif fb.action == "more":
        directive = {"action": "random", "reason": f"{said}: another round of fresh noise"}
    elif fb.action == "replan":
        directive = {"action": "replan", "reason": f"{said}: change the plan", "request": fb.request}
    elif fb.action == "edit":
        plan = state["plan"]
        if fb.color and fb.color != plan["objects"][fb.object].get("color"):
            plan = recolored(Plan.model_validate(plan), fb.object, fb.color).model_dump()
            update |= {"plan": plan, "plans": [plan], "goal_since": len(state["candidates"])}
        target = edit_target(state, fb, plan)
        if target is None:
            directive = {"action": "replan", "reason": f"{said}: the object was not found, so re-plan",
                         "request": answer}
        else:
            directive = {"action": "repair", "reason": f"{said}: {target['why']}", "target": target}
    turn = {"stage": "round", "round": state["round"], "answer": answer,
            "read_as": fb.model_dump(exclude_defaults=True), "read_by": how}
    return update | {"directive": directive, "chat": [turn]}

