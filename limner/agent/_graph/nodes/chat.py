"""The chat nodes: where an interactive run stops for a person (LangGraph interrupts).

``review_plan`` follows every plan and re-plan; ``review`` follows every verified round. In a run that is not
interactive both pass straight through. In a chat, each calls ``interrupt(question)``: the graph stops there
(checkpointed), and the person's answer comes back as the value of ``interrupt`` when the run is continued
with ``Command(resume=answer)``. The answer is read into an ``Intent`` (``limner.agent.edits``) and stored as a
``directive`` that the next step obeys: ``decide`` checks every directive against the budgets first.
"""

from __future__ import annotations

from limner.agent._graph.nodes.kit import _charge, _node
from limner.agent.errors import LimnerError



def _unpack(answer) -> tuple[str, dict]:
    """An answer's words, and what came with them (``layout``, ``mask``, ``candidate``: ``runner.answer``)."""
    if isinstance(answer, dict):
        return str(answer.get("text") or ""), {k: v for k, v in answer.items() if k != "text" and v is not None}
    return str(answer), {}


def mask_box(run_dir, mask: str) -> list[float] | None:
    """The bounding box of a person's mask (a PNG in the run folder), as fractions; None when it is empty."""
    from limner.tools.editing.masks import mask_bbox

    box = mask_bbox(f"{run_dir}/{mask}")
    return None if box is None else [round(v, 4) for v in box]


def _under(boxes: dict[int, list[float]], region: list[float]) -> int | None:
    """The object whose box overlaps ``region`` most (None: none does)."""
    from limner.agent.layout import overlap

    scored = [(overlap(box, region), i) for i, box in boxes.items()]
    best = max(scored, default=(0.0, None))
    return best[1] if best[0] > 0 else None


def _read(tb, policy, state: dict, answer: str, stage: str, candidates: list[dict], extra: dict | None = None):
    """The person's words as an ``Intent`` (the LLM's reading when the run plans with one, else the rules'),
    told the plan's objects where the current image shows them, the candidates and the session's intents."""
    from limner.agent.edits import Scene, read
    from limner.agent.edits.apply import found_boxes

    extra = extra or {}
    head_id = extra.get("candidate") or state.get("best_id")
    head = next((c for c in state["candidates"] if c["id"] == head_id), None)
    history = [t["read_as"] for t in state.get("chat", [])]
    boxes = found_boxes(head)
    if extra.get("mask"):  # what the person painted over is what "it" means
        region = mask_box(state["run_dir"], extra["mask"])
        pointed = _under(boxes, region) if region else None
        if pointed is not None:
            history = [*history, {"action": "point", "object": pointed}]
    scene = Scene.of(state["plan"], candidates, history, boxes)
    with tb.llm_session(policy.budgets.llm_calls - state["spent"]["llm_calls"]) as used:
        llm = tb.llm if (tb.planner_kind == "llm" and tb.llm is not None and tb.llm.can_call()) else None
        try:
            intent = read(answer, stage, scene, llm=llm)
            how = "llm" if llm is not None else "rules"
        except LimnerError as exc:  # the LLM could not read it: the offline reading still can
            intent, how = read(answer, stage, scene), f"rules (the LLM failed: {exc})"
    return intent, how, used["calls"]


def _question(state: dict, stage: str) -> dict:
    base = {"kind": stage, "run_id": state["run_id"], "run_dir": state["run_dir"], "plan": state["plan"]}
    said = (state.get("directive") or {}).get("say")  # the reader's question, or why an edit could not be done
    if stage == "plan":
        return {**base, "asks": said or "approve the plan, change it in your words, or cancel"}
    rnd = state["round"]
    this_round = [c for c in state["candidates"] if c.get("round") == rnd]
    best = next((c for c in state["candidates"] if c["id"] == state.get("best_id")), {})
    checks = [{"question": q["question"], "passed": q["passed"]} for s in (best.get("scores") or {}).values()
              for q in (s.get("detail") or {}).get("questions", [])]
    return {**base, "round": rnd, "best_id": state.get("best_id"), "best_score": state.get("best_score"),
            "best_checks": checks, "head": state.get("best_id"), "history": history_tree(state),
            "threshold": state["policy"]["threshold"], "spent": state["spent"],
            "candidates": [{k: c.get(k) for k in ("id", "path", "score")} for c in this_round],
            "contact_sheet": "contact.png", "report": "report.html",
            "asks": said or ("accept, pick a candidate (e.g. 'pick c0002'), ask for more, say what to change, "
                             "'undo', or 'back to r01-c00'")}


def history_tree(state: dict) -> list[dict]:
    """The session as a tree: one node per turn after a round, with the candidate it started from (``from``),
    what it made (``made``: the ids of the round it caused) and where it left the session (``head``). A turn
    whose ``from`` is not the turn before's ``head`` starts a branch; nothing is ever deleted."""
    undone = set(state.get("undone", []))
    turns = state.get("chat", [])
    out = []
    for k, t in enumerate(turns):
        if t["stage"] != "round":
            continue
        until = next((u["round"] for u in turns[k + 1:] if u["stage"] == "round"), state.get("round", 0))
        made = [c for c in state.get("candidates", []) if t.get("made_round") is not None
                and t["made_round"] <= c.get("round", 0) <= until]
        head = t.get("head") or (max(made, key=lambda c: c["score"] or 0)["id"] if made else None)
        out.append({"turn": k, "answer": t["answer"], "action": t["read_as"].get("action"),
                    "kind": t["read_as"].get("kind"), "from": t.get("from"), "made": [c["id"] for c in made],
                    "head": head, **({"undone": True} if k in undone else {})})
    return out


@_node("review_plan")
def review_plan(state: dict, tb, policy) -> dict:
    """A chat stops here after each plan: approve (generate), change it (an edit of the plan, or a re-plan with
    the words), or cancel; a question or an edit of the plan comes back here."""
    if not state.get("interactive"):
        return {"directive": None}
    from langgraph.types import interrupt

    answer, extra = _unpack(interrupt(_question(state, "plan")))
    update: dict = {}
    if extra.get("layout") is not None:  # the boxes as the person moved them (and the objects they kept)
        drawn = _drawn_layout(state, extra["layout"])
        if isinstance(drawn, str):
            return {"directive": {"action": "review_plan", "reason": "the person's layout", "say": drawn}}
        state = {**state, "plan": drawn, "plans": [*(state.get("plans") or []), drawn]}
        update |= {"plan": drawn, "plans": [drawn]}
    intent, how, calls = _read(tb, policy, state, answer, "plan", [])
    turn = {"stage": "plan", "plan_version": state["plan"]["version"], "answer": answer,
            "read_as": intent.model_dump(exclude_defaults=True), "read_by": how,
            **({"layout": extra["layout"]} if extra.get("layout") is not None else {})}
    update |= {"chat": [turn], "spent": _charge(state, llm_calls=calls)}
    said = f"the person answered: {answer!r}"
    if intent.action == "edit":
        edited = _plan_edit(state, intent, tb.spec.least_object)
        if isinstance(edited, str):
            return update | {"directive": {"action": "review_plan", "reason": said, "say": edited}}
        return update | {"plan": edited, "plans": [edited], "directive": {"action": "review_plan", "reason": said,
                                                                           "say": f"plan v{edited['version']}: "
                                                                                  f"{intent.reply}; approve it?"}}
    if intent.action == "ask":
        return update | {"directive": {"action": "review_plan", "reason": said, "say": intent.question}}
    directive = {"action": {"accept": "generate", "cancel": "finish", "replan": "replan"}[intent.action],
                 "reason": said, "request": intent.request}
    update["directive"] = directive
    if directive["action"] == "finish":
        update |= {"next_action": "finish", "stop_reason": "the person cancelled at the plan"}
    return update


def _drawn_layout(state: dict, layout: list[dict]) -> dict | str:
    """The plan with the person's boxes (``[{"object": i, "box": [...]}]``): each listed object's region moved
    there; an object with no box left is removed from the plan (its box deleted). A new plan version, or why
    the layout cannot be used."""
    from limner.agent.edits import Intent
    from limner.agent.edits.apply import edited_plan
    from limner.tools.generators.regional import check_box

    plan = state["plan"]
    n = len(plan["objects"])
    boxes: dict[int, list[float]] = {}
    try:
        for item in layout:
            i = int(item["object"])
            if not 0 <= i < n:
                return f"the layout names object {i}, which is not in the plan"
            boxes[i] = [round(float(v), 4) for v in check_box(item["box"])]
    except (KeyError, TypeError, ValueError) as exc:
        return f"that layout cannot be used: {str(exc).splitlines()[0]}"
    if not boxes:
        return "the layout has no box left: keep at least one object"
    regions = [{**r, "box": boxes.get(r.get("object"), r["box"])} for r in (plan.get("layout") or {}).get("regions", [])]
    drawn = {**plan, "layout": {**(plan.get("layout") or {"base_ratio": 0.3, "background": ""}), "regions": regions}}
    version = _next_version(state)
    for i in sorted(set(range(n)) - set(boxes), reverse=True):  # deleted boxes: those objects go
        try:
            drawn = edited_plan(drawn, Intent(action="edit", kind="remove", object=i), version)
        except ValueError as exc:
            return f"that layout cannot be used: {str(exc).splitlines()[0]}"
    return {**drawn, "version": version, "rationale": "the person moved the layout's boxes"}


def _plan_edit(state: dict, intent, least: float = 0.0) -> dict | str:
    """An edit said at the plan: the plan changed as the intent says (a new version), or why it cannot be;
    an added or moved object's box not under ``least`` (the model's ``least_object``)."""
    from limner.agent.edits.apply import edited_plan, placed

    plan = state["plan"]
    if intent.kind in ("resize", "regenerate"):
        return f"a {intent.kind} needs an image: approve the plan first, then say it"
    box = None
    if intent.kind in ("add", "move"):
        regions = (plan.get("layout") or {}).get("regions", [])
        own = next((r["box"] for r in regions if r.get("object") == intent.object), None)
        size = (own[2] - own[0], own[3] - own[1]) if own else (0.3, 0.3)
        anchor = next((r["box"] for r in regions if intent.anchor is not None and r.get("object") == intent.anchor), None)
        box = placed(size, intent.where, [r["box"] for r in regions if r.get("object") != intent.object],
                     intent.relation, anchor, least=least) if regions else None
    try:
        return edited_plan(plan, intent, _next_version(state), box)
    except ValueError as exc:
        return f"that cannot be done: {str(exc).splitlines()[0]}"


def _next_version(state: dict) -> int:
    return max([p["version"] for p in state.get("plans") or []] + [state["plan"]["version"]]) + 1


def route_after_plan(state: dict) -> str:
    directive = state.get("directive") or {}
    return {"finish": "finish", "replan": "replan", "review_plan": "review_plan"}.get(directive.get("action"),
                                                                                      "generate")


def route_after_review(state: dict) -> str:
    """After a round's review: the decision, or the review again (an undo, a question, an edit that could not
    be done: nothing to generate)."""
    return "review" if (state.get("directive") or {}).get("action") == "review" else "decide"


def _go_to(state: dict, cid: str, reason: str, say: str) -> dict:
    """The session's head moved to candidate ``cid`` (undo, back): its plan is the plan again; what comes next
    starts from it. Every candidate stays."""
    cand = next(c for c in state["candidates"] if c["id"] == cid)
    plan = next((p for p in state.get("plans") or [] if p["version"] == cand["plan_version"]), state["plan"])
    return {"best_id": cid, "best_score": cand["score"], "plan": plan, "goal_since": len(state["candidates"]),
            "directive": {"action": "review", "reason": reason, "say": say}}


def _undo_target(state: dict) -> tuple[int, str] | None:
    """The latest turn not undone that moved the session (an edit, more, back), and where it started from."""
    turns, undone = state.get("chat", []), set(state.get("undone", []))
    for k in range(len(turns) - 1, -1, -1):
        t = turns[k]
        if t["stage"] == "round" and t.get("from") and t.get("head") != t.get("from") and k not in undone \
                and t["read_as"].get("action") in ("edit", "more", "back"):
            return k, t["from"]
    return None


@_node("review")
def review(state: dict, tb, policy) -> dict:
    """A chat stops here after each round (and after an undo, a question or a move back): accept, pick, more,
    an edit (recolour, resize, move, add, remove, replace, restyle, regenerate), undo, back to a candidate, or a
    new plan."""
    if not state.get("interactive"):
        return {"directive": None}
    from langgraph.types import interrupt

    from limner.agent._run.report import write_contact_sheet, write_report

    again = _retry(state, policy)
    if again is not None:  # the person's edit failed its checks: the agent tries it again before asking
        return {"directive": again}
    write_contact_sheet(tb.store, state["candidates"], state.get("best_id"))
    write_report(tb.store, state)
    answer, extra = _unpack(interrupt(_question(state, "round")))
    if extra.get("candidate") and not any(c["id"] == extra["candidate"] for c in state["candidates"]):
        extra.pop("candidate")
    intent, how, calls = _read(tb, policy, state, answer, "round", state["candidates"], extra)
    if extra.get("candidate") and intent.action == "edit" and intent.candidate is None:
        intent = intent.model_copy(update={"candidate": extra["candidate"]})
    said = f"the person answered: {answer!r}"
    head = state.get("best_id")
    update: dict = {"spent": _charge(state, llm_calls=calls)}
    turn = {"stage": "round", "round": state["round"], "answer": answer,
            "read_as": intent.model_dump(exclude_defaults=True), "read_by": how, "from": head,
            **({"mask": extra["mask"]} if extra.get("mask") else {})}
    directive = {"action": "finish", "reason": said}
    if intent.action == "pick":
        picked = next(c for c in state["candidates"] if c["id"] == intent.candidate)
        update |= {"best_id": picked["id"], "best_score": picked["score"]}
        directive["reason"] = f"{said}: finish with {picked['id']}"
    elif intent.action == "cancel":
        directive["reason"] = f"{said}: cancelled"
    elif intent.action == "more":
        directive = {"action": "random", "reason": f"{said}: another round of fresh noise"}
        turn["made_round"] = state["round"] + 1
    elif intent.action == "replan":
        directive = {"action": "replan", "reason": f"{said}: change the plan", "request": intent.request}
    elif intent.action == "ask":
        directive = {"action": "review", "reason": said, "say": intent.question}
    elif intent.action in ("undo", "back"):
        if intent.action == "undo":
            found = _undo_target(state)
            if found is None:
                directive = {"action": "review", "reason": said, "say": "nothing to undo yet"}
            else:
                k, cid = found
                update |= _go_to(state, cid, said, f"undone: back to {cid}")
                turn["undoes"] = k
                turn["head"] = cid
                return update | {"chat": [turn], "undone": [k]}
        else:
            update |= _go_to(state, intent.candidate, said, f"back to {intent.candidate}: what next?")
            turn["head"] = intent.candidate
            return update | {"chat": [turn]}
    elif intent.action == "edit":
        done = _edit(state, intent, said, extra.get("mask"), tb.spec.least_object)
        if isinstance(done, str):
            directive = {"action": "review", "reason": said, "say": done}
        else:
            directive = done.pop("directive")
            update |= done
            turn["made_round"] = state["round"] + 1
            turn["directive"] = directive
    if directive["action"] != "review":
        turn["head"] = head if directive["action"] == "finish" else None
    return update | {"directive": directive, "chat": [turn]}


def _retry(state: dict, policy) -> dict | None:
    """The last turn's edit again (fresh seeds), when the image it led to fails its checks and the policy's
    ``edit_retries`` are not spent; None: show the result and ask."""
    from limner.agent._run.checks import passes

    turns = state.get("chat") or []
    last = turns[-1] if turns else None
    if not last or last["stage"] != "round" or not last.get("directive") or last.get("made_round") is None:
        return None
    tries = state["round"] - last["made_round"]  # rounds after the edit's own
    best = next((c for c in state["candidates"] if c["id"] == state.get("best_id")), None)
    if tries >= policy.edit_retries or best is None or best.get("round", 0) < last["made_round"] \
            or passes(best, policy.threshold):
        return None
    return {**last["directive"], "reason": f"{best['id']}, the edit's best so far, fails its checks: the same edit "
                                          f"again with fresh seeds ({tries + 1} of {policy.edit_retries})"}


def _edit(state: dict, intent, said: str, mask: str | None = None, least: float = 0.0) -> dict | str:
    """The state update and directive that carry out an edit, or why it cannot be done (one line). With a
    person's ``mask``, an edit of one region paints only there (an addition goes there). ``least``: the
    smallest side an added or moved object is placed at (the model's ``least_object``)."""
    from limner.agent.edits.apply import edited_plan, found_boxes, target

    parent = next(c for c in state["candidates"] if c["id"] == (intent.candidate or state["best_id"]))
    plan = state["plan"]
    version = _next_version(state)
    region = mask_box(state["run_dir"], mask) if mask else None
    if mask and region is None:
        return "the mask is empty: paint the part to change"
    try:
        new_plan = edited_plan(plan, intent, version)
        goal, box = target(plan, new_plan, intent, parent, least)
        if region is not None and goal is not None:  # the person's brush says where
            goal = {**goal, "box": region, "within": mask}
            if intent.kind != "move":  # only a move paints away from where it erases
                goal.pop("erase", None)
            if intent.kind == "add":
                box = region
        if box is not None:
            new_plan = edited_plan(plan, intent, version, box)
    except ValueError as exc:
        return f"that cannot be done: {str(exc).splitlines()[0]}"
    update = {"plan": new_plan, "plans": [new_plan], "goal_since": len(state["candidates"]),
              "best_id": parent["id"], "best_score": parent["score"]}
    if goal is not None:
        directive = {"action": "repair", "reason": f"{said}: {goal['why']}", "target": goal}
    elif intent.kind == "restyle":  # a new look, the same composition: every object found stays where it was
        directive = {"action": "variation", "reason": f"{said}: restyle {parent['id']} as {intent.style}",
                     "parent": parent["id"],  # a retry restyles this image again, never a failed restyle of it
                     "keep": [{"object": i, "box": b} for i, b in sorted(found_boxes(parent).items())]}
    else:
        directive = {"action": "random", "reason": f"{said}: the image made again"}
    return update | {"directive": directive}
