"""The graph's nodes. Each is thin: it calls tools, records what happened, and returns a state update.

The plan, generate, verify, decide and finish nodes; chat nodes are in ``chat``, edit nodes in ``edit``, the
helpers they share in ``kit``, and ``_graph.build.NODES`` maps node names to nodes. Each is ``fn(state, tb, policy)``:
what the run holds (``Toolbox``) and what it decides (``Policy``), handed over separately by ``kit._node``,
which makes it LangGraph's ``node(state, runtime)`` with ``_graph.toolbox.RunContext`` as ``runtime.context``.
"""

from __future__ import annotations

from limner.agent._run.checks import check_tally, passes
from limner.agent._graph.decide import decide, round_size
from limner.agent._run.manifest import build_manifest, write_final, write_layout_overlay
from limner.agent.errors import LLMError
from limner.agent._graph.nodes.kit import _charge, _emit, _load_rgb, _node
from limner.agent._graph.rounds import run_round, strategy_round
from limner.agent.plan import Plan


@_node("intake")
def intake(state: dict, tb, policy) -> dict:
    tb.store.event({"event": "intake", "run_id": state["run_id"]})
    for notice in tb.notices():
        _emit({"event": "notice", "text": notice})
    return {"status": "running", "round": 0, "seed_cursor": 0, "no_improve": 0, "replans": 0,
            "best_id": None, "best_score": None, "pending": [], "final": None, "strategy": None,
            "search_memo": {}, "repairs": [], "goal_since": 0, "directive": None}



def llm_left(state: dict, policy) -> int:
    """LLM calls the policy's budget still allows this run."""
    return policy.budgets.llm_calls - state["spent"]["llm_calls"]


def llm_budget_too_small(tb, policy, state: dict) -> str | None:
    """Why the LLM budget cannot score even one candidate of this plan, or None."""
    per = tb.llm_calls_per_candidate(state["plan"])
    left = policy.budgets.llm_calls - state["spent"]["llm_calls"]
    if per and left < per:
        return (f"LLM call budget too small: {left} of {policy.budgets.llm_calls} calls left after planning, "
                f"scoring one candidate takes {per}; raise budgets.llm_calls in policy '{policy.name}'")
    return None


@_node("plan")
def plan(state: dict, tb, policy) -> dict:
    prompt = state["brief"]["prompt"]
    note = None
    with tb.llm_session(llm_left(state, policy)) as used:
        try:
            new = tb.planner.plan(prompt)
        except LLMError as exc:
            if policy.planner == "llm":
                raise
            new, note = tb.rules_planner().plan(prompt), f"LLM planner failed ({exc}); used the rules planner"
    new = with_brief_negative(new, state["brief"])
    update = {"plan": new.model_dump(), "plans": [new.model_dump()], "spent": _charge(state, llm_calls=used["calls"])}
    decision = {"step": "plan", "action": "plan", "reason": note or f"plan by {new.planner}"}
    outside = tb.plan_notice(update["plan"])
    if outside:
        decision["warning"] = outside
        _emit({"event": "notice", "text": outside})
    update["decisions"] = [decision]
    short = llm_budget_too_small(tb, policy, {**state, **update})
    if short:  # the plan's checks cannot be answered for even one candidate: stop before generating
        update["directive"] = {"action": "finish", "reason": short}
        update["stop_reason"] = short
        update["decisions"] = [decision, {"step": "plan", "action": "finish", "reason": short}]
    _emit({"event": "plan", "plan": new.model_dump()})
    return update



@_node("replan")
def replan(state: dict, tb, policy) -> dict:
    previous = Plan.model_validate(state["plan"])
    request = (state.get("directive") or {}).get("request")
    critique = f"the person asked: {request}" if request else critique_of(state)
    with tb.llm_session(llm_left(state, policy)) as used:
        try:
            new = (tb.planner.revise(previous, request) if request
                   else tb.planner.replan(previous, critique, history=plan_history(state)))
            reason = f"re-planned (version {new.version}) by {new.planner}"
        except LLMError as exc:
            new, reason = previous, f"re-plan failed, kept plan version {previous.version}: {exc}"
    new = with_brief_negative(new, state["brief"])
    _emit({"event": "plan", "plan": new.model_dump()})
    changed_goal = {"goal_since": len(state["candidates"])} if new.prompt != previous.prompt else {}
    return {**changed_goal, "plan": new.model_dump(), "plans": [new.model_dump()] if new is not previous else [],
            "replans": state.get("replans", 0) + 1, "no_improve": 0,
            "decisions": [{"step": "replan", "action": "replan", "reason": reason, "critique": critique}],
            "spent": _charge(state, llm_calls=used["calls"])}



def with_brief_negative(plan: Plan, brief: dict) -> Plan:
    """The plan with the person's own negative prompt (``--negative``) joined to the plan's (its exclusions)."""
    theirs = (brief.get("negative_prompt") or "").strip()
    if not theirs or theirs in plan.negative_prompt:
        return plan
    joined = ", ".join(p for p in (theirs, plan.negative_prompt) if p)
    return plan.model_copy(update={"negative_prompt": joined})


def plan_history(state: dict) -> list[dict]:
    """Every plan of the run so far: its version, rewritten prompt and the best score its candidates got."""
    plans = state.get("plans") or [state["plan"]]
    out = []
    for p in plans:
        scores = [c["score"] for c in state.get("candidates", []) if c.get("plan_version") == p["version"]
                  and c.get("score") is not None]
        out.append({"version": p["version"], "rewritten_prompt": p["rewritten_prompt"],
                    "best_score": max(scores) if scores else None})
    return out


def critique_of(state: dict) -> str:
    """What the verifiers said about the best candidate, in words, for a re-plan."""
    best = next((c for c in state.get("candidates", []) if c["id"] == state.get("best_id")), None)
    if best is None:
        return "no candidate was scored"
    lines = [f"best candidate {best['id']} scored {best['score']:.3f} (threshold {state['policy']['threshold']})"]
    for name, s in best["scores"].items():
        lines.append(f"- {name}: {s['score']:.3f} (raw {s['raw'] if not isinstance(s['raw'], float) else round(s['raw'], 4)})")
        detail = s.get("detail", {})
        for criterion, why in (detail.get("reasons") or {}).items():
            lines.append(f"  - {criterion}: {why}")
        if detail.get("critique"):
            lines.append(f"  - what the VLM sees in it: {detail['critique']}")
        for q in detail.get("questions", []):
            if not q["passed"]:
                lines.append(f"  - failed check: {q['question']}" + (" (its premise failed)" if q["skipped_by_parent"] else ""))
    return "\n".join(lines)


@_node("generate")
def generate(state: dict, tb, policy) -> dict:
    """One round: the chosen search strategy (``random`` after intake or a re-plan) makes candidates; an edit's
    first round shows (or repaints) the user's image."""
    from contextlib import nullcontext

    from limner.tools.search import STRATEGIES, SearchContext

    n, size_limit = round_size(state, tb, policy)
    plan = state["plan"]
    action = state.get("next_action") or "initial"
    strategy = STRATEGIES[action if action in STRATEGIES else "random"]
    if state["brief"].get("image") and state["round"] == 0:
        from limner.agent._graph.nodes.edit import input_round

        return {**run_round(tb, state, input_round(tb, state, n)), "strategy": None}
    rnd = state["round"] + 1
    ctx = SearchContext(
        generator=tb.generator, prompt=plan["rewritten_prompt"], seeds=None,
        negative_prompt=plan.get("negative_prompt", ""),
        scorer=tb.search_scorer(plan) if strategy.needs_scorer or strategy.uses_scorer else None,
        reward=tb.search_reward(plan) if strategy.needs_reward else None, base_dir=tb.store.dir,
        options=policy.strategy_options.get(strategy.name, {}), population=policy.population,
        on_step=lambda step, steps: _on_step(tb, rnd, step, steps),
    )
    mode, layout_args, layout_note = layout_use(tb, policy, state, action)
    make = strategy_round(tb, policy, state, strategy, ctx, n, action, {mode: layout_args} if mode else {})

    def made_here(rnd: int, seeds):
        with getattr(tb.generator, mode)(**layout_args) if mode else nullcontext():
            records, log = make(rnd, seeds)
        return records, {**log, **({"layout": layout_note} if layout_note else {}), "regional": mode == "regional",
                         "grounded": mode == "grounded", "size": {"n": n, "limit": size_limit}}

    update = run_round(tb, state, made_here)
    memo = dict(state.get("search_memo") or {})
    log = update["rounds_log"][0]
    memo[strategy.name] = {**log.get("memo", {}), "last_ids": log["candidates"]}
    return {**update, "strategy": strategy.name if action in STRATEGIES else None, "search_memo": memo}



def _on_step(tb, rnd: int, step: int, steps: int) -> None:
    """After each denoising step: announce it, then stop there if the run was asked to (diffusers'
    ``callback_on_step_end`` lets the exception out of the pipeline call)."""
    _emit({"event": "step", "round": rnd, "step": step, "steps": steps})
    tb.check_cancel(f"in round {rnd} at denoising step {step} of {steps}")


def layout_use(tb, policy, state: dict, action: str) -> tuple[str | None, dict | None, str | None]:
    """Whether this round is generated from the plan's layout: ``(mode, arguments, note)``; ``mode`` is
    ``grounded`` (a model trained to take boxes), ``regional`` (regional attention) or None."""
    if not (policy.layout_every_round(tb.spec.caps) or action == "layout"):
        return None, None, None
    layout = state["plan"].get("layout")
    if not layout:
        return None, None, "the plan has no layout: generated from the prompt alone"
    regions = [{"phrase": r["phrase"], "box": r["box"]} for r in layout["regions"]]
    mode, caps = policy.layout_mode, tb.spec.caps
    if mode != "regional" and not caps.lacks("grounded"):
        beta = tb.spec.grounding_beta
        return "grounded", {"regions": regions, "beta": beta}, (
            f"grounded generation: {len(regions)} boxes from the plan's layout, for the first {beta:g} of the steps")
    if mode == "grounded" or caps.lacks("regional"):
        return None, None, caps.lacks("grounded") if mode == "grounded" else caps.lacks("regional")
    args = {"regions": regions, "base_ratio": layout["base_ratio"], "background": layout.get("background") or None}
    return "regional", args, (f"regional generation: {len(regions)} regions from the plan's layout, base ratio "
                              f"{layout['base_ratio']}")


@_node("verify")
def verify(state: dict, tb, policy) -> dict:
    from limner.agent.candidate import validated
    from limner.tools.verifiers.ensemble import combine, score_all

    pending = state["pending"]
    images = [_load_rgb(tb.store.dir / c["path"]) for c in pending]  # as saved: PNG is lossless
    # the person may have changed the prompt in a chat; reward models read it without its exclusions
    prompts_ = [state["plan"].get("judge_prompt") or state["plan"]["prompt"]] * len(images)
    dropped = dict(state.get("dropped_verifiers") or {})
    # those that ask about a plan ask about this one; a verifier whose LLM failed earlier is left out
    verifiers = [(ref, v) for ref, v in tb.verifiers(state["plan"]) if ref.name not in dropped]
    failed: dict[str, str] = {}
    with tb.llm_session(llm_left(state, policy)) as used:
        per_verifier = score_all([(ref.name, v) for ref, v in verifiers], images, prompts_, failed=failed,
                                 catch=(LLMError,))
    decisions = []
    if failed:  # an LLM that fails costs its verifier, not the run: the rest judge every candidate from now on
        if len(failed) == len(verifiers):
            raise LLMError(f"every verifier failed: {'; '.join(f'{n}: {e}' for n, e in failed.items())}")
        dropped.update(failed)
        verifiers = [(ref, v) for ref, v in verifiers if ref.name not in failed]
        reason = "; ".join(f"{n} failed ({e[:200]})" for n, e in failed.items())
        decisions.append({"step": "verify", "action": "drop_verifier", "reason": f"{reason}: the run goes on with "
                          f"{', '.join(ref.name for ref, _ in verifiers)}, and every candidate is compared by them"})
        _emit({"event": "notice", "text": decisions[-1]["reason"]})
    weights = {ref.name: ref.weight for ref, _ in verifiers}
    kept = preserved(tb, state, pending, images)
    shaped = restyle_kept(tb, pending, images)
    means = combine({n: [s.score for s in scores] for n, scores in per_verifier.items()}, weights)
    scored = []
    for k, cand in enumerate(pending):
        scores = {name: results[k].to_dict() for name, results in per_verifier.items()}
        if kept[k] is not None:  # an edit of a region: outside it, the image must be as it was
            scores["preservation"] = kept[k]
        if shaped[k] is not None:  # a restyle: the outlines of the image it restyled, kept
            scores["structure"] = shaped[k]
        asked = intent_check(cand, scores)
        if asked is not None:  # a person's move, resize, addition or restyle: did it end up as asked?
            scores["intent"] = asked
        scored.append(validated({**cand, "scores": scores, "score": round(means[k], 6)}))
        _emit({"event": "candidate", "id": cand["id"], "score": means[k], "path": cand["path"]})
    # candidates made before a person changed what the image should show no longer compete
    rivals = state.get("candidates", [])[state.get("goal_since", 0):]
    best_id, best_score = select_best(rivals + scored, weights, policy.ensemble, rescore=bool(dropped))
    improved = state.get("best_score") is None or best_score > state["best_score"]
    return {
        **({"dropped_verifiers": dropped, "decisions": decisions} if failed else {}),
        "candidates": scored, "pending": [], "best_id": best_id, "best_score": best_score,
        "no_improve": 0 if improved else state.get("no_improve", 0) + 1,
        "spent": _charge(state, llm_calls=used["calls"], verifier_calls=len(verifiers) * len(scored)),
    }



def preserved(tb, state: dict, pending: list[dict], images: list) -> list[dict | None]:
    """Each candidate's preservation record (``scores["preservation"]``), or None where nothing had to be kept:
    in an edit of a region (``--box``/``--mask``, an edit endpoint's mask), everything outside it compared with
    the input; in an inpainted repair or a chat's edit of one object, everything outside the boxes it painted
    (and erased) compared with its parent."""
    from functools import lru_cache

    from limner.tools.verifiers.preservation import as_score, preservation

    source = lru_cache(maxsize=None)(lambda rel: _load_rgb(tb.store.dir / rel))  # a round's candidates share one
    out = []
    for cand, image in zip(pending, images):
        found = edited_region(tb, state, cand, image.size, source)
        out.append(None if found is None else as_score(preservation(found[0], image, found[1])))
    return out


def restyle_kept(tb, pending: list[dict], images: list) -> list[dict | None]:
    """Each candidate's structure record (``scores["structure"]``): for a chat's restyle (a variation whose
    target expects every object ``kept``) on a model whose alias says ``restyle_structure``, its outlines
    compared with the image it restyled; None for every other candidate."""
    from functools import lru_cache

    from limner.tools.verifiers.structure import as_score, structure

    if not tb.spec.restyle_structure:
        return [None] * len(pending)
    source = lru_cache(maxsize=None)(lambda rel: _load_rgb(tb.store.dir / rel))  # a round's candidates share one
    out = []
    for cand, image in zip(pending, images):
        edit = cand.get("edit") or {}
        restyle = "kept" in ((edit.get("target") or {}).get("expect") or {}) and edit.get("parent_path")
        out.append(as_score(structure(source(edit["parent_path"]), image)) if restyle else None)
    return out


def edited_region(tb, state: dict, cand: dict, size, source) -> tuple | None:
    """``(source image, region mask)`` a candidate must match outside of, or None (a new generation, or an
    edit of the whole image: a variation or an instruction). ``source(relative path)`` loads an image of the
    run folder."""
    from PIL import ImageChops

    from limner.tools.editing import box_mask_image, load_mask

    brief, edit = state["brief"], cand.get("edit") or {}
    if brief.get("image") and (brief.get("box") or brief.get("mask")):
        return source("input.png"), (load_mask(tb.store.dir / "mask.png", size) if brief.get("mask")
                                     else box_mask_image(size, brief["box"]))
    if edit.get("editor") != "inpaint" or not edit.get("box") or not edit.get("parent_path"):
        return None
    region = box_mask_image(size, edit["box"])
    if edit.get("within"):  # painted only where a person's mask also is
        region = ImageChops.darker(region, load_mask(tb.store.dir / edit["within"], size))
    if edit.get("erase"):
        region = ImageChops.lighter(region, box_mask_image(size, edit["erase"]["box"]))
    return source(edit["parent_path"]), region


RESIZED = 1.2  # a resize counts when the object's found box grew (shrank) by this factor in area
KEPT_SHIFT = 0.15  # a restyled object stays put: its centre moved by at most this share of its larger side


def _shift(before: list[float], after: list[float]) -> float:
    """How far a box's centre moved, as a share of its larger side before."""
    side = max(before[2] - before[0], before[3] - before[1]) or 1.0
    return max(abs((after[0] + after[2]) - (before[0] + before[2])),
               abs((after[1] + after[3]) - (before[1] + before[3]))) / 2 / side


def intent_check(cand: dict, scores: dict) -> dict | None:
    """For an edit a person asked for in a chat (``edit.target.expect``): whether the object is where a move or
    an addition put it (its found box's centre inside the box it was painted in), or bigger (smaller) than it was
    by ``RESIZED`` in area, or, after a restyle, every object where it was (within ``KEPT_SHIFT``), read from
    the question verifier's findings; None for other candidates. A check
    the findings cannot answer (the object not found) is unanswered, never passed."""
    expect = ((cand.get("edit") or {}).get("target") or {}).get("expect")
    if not expect:
        return None

    def box_of(i: int) -> list[float] | None:
        return next((f["box"] for s in scores.values() for f in (s.get("detail") or {}).get("findings") or []
                     if f["kind"] == "object" and f["index"] == i and f.get("box") and f["status"] != "missing"), None)

    def area(b: list[float]) -> float:
        return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])

    if "kept" in expect:  # a restyle: each object's found centre within KEPT_SHIFT of its size from where it was
        now = [box_of(k["object"]) for k in expect["kept"]]
        question, obj, box = "is every object where it was?", None, None
        # no object known where it was (none found in the image restyled), or one not found now: unanswered
        ok = None if not now or None in now else all(_shift(k["box"], b) <= KEPT_SHIFT
                                                      for k, b in zip(expect["kept"], now))
    else:
        obj = expect["object"]
        box = box_of(obj)
        if "inside" in expect:
            x0, y0, x1, y1 = expect["inside"]
            question = "is the object where it was asked to go?"
            ok = None if box is None else (x0 <= (box[0] + box[2]) / 2 <= x1 and y0 <= (box[1] + box[3]) / 2 <= y1)
        else:
            before = area(expect["area_from"])
            question = f"is the object {'bigger' if expect['grow'] else 'smaller'} than it was?"
            ok = None if box is None or not before else (area(box) >= RESIZED * before if expect["grow"]
                                                         else area(box) <= before / RESIZED)
    record = {"id": "intent", "question": question, "kind": "intent", "object": obj, "answer": box,
              "counted": None if ok is None else float(ok), "passed": bool(ok), "skipped_by_parent": False}
    return {"score": 1.0 if ok else 0.0, "raw": None, "detail": {"questions": [record]}}


def broke_outside(candidate: dict) -> bool:
    """Whether an edit of a region changed what lies outside it (its preservation check failed)."""
    record = (candidate.get("scores") or {}).get("preservation")
    return record is not None and not record["detail"]["preservation"]["passed"]


def select_best(candidates: list[dict], weights: dict[str, float], method: str,
                rescore: bool = False) -> tuple[str, float]:
    """The best candidate so far (earliest on ties) and its mean score. ``rank`` ranks all candidates so far.
    ``rescore`` (after a verifier was dropped): every candidate's mean over ``weights``' verifiers only. An
    edit that changed what lies outside its region ranks below every one that did not."""
    from limner.tools.verifiers.ensemble import combine

    means = [c["score"] for c in candidates]
    if rescore:
        means = [round(m, 6) for m in combine({n: [c["scores"][n]["score"] for c in candidates] for n in weights},
                                              weights)]
    if method == "rank":
        keys = combine({n: [c["scores"][n]["score"] for c in candidates] for n in weights}, weights, "rank")
    else:
        keys = means
    best = max(range(len(candidates)), key=lambda i: (not broke_outside(candidates[i]), keys[i], -i))
    return candidates[best]["id"], means[best]


@_node("decide")
def decide_node(state: dict, tb, policy) -> dict:
    d = decide(state, tb, policy)
    record = {"step": "decide", "round": state["round"], "action": d["action"], "reason": d["reason"],
              "best_id": state.get("best_id"), "best_score": state.get("best_score"),
              "spent": dict(state["spent"]), **({"skipped": d["skipped"]} if d.get("skipped") else {}),
              **({"rates": d["rates"]} if d.get("rates") else {})}
    _emit({"event": "decision", **record})
    if d["action"] != "finish":  # finish writes the final manifest itself, right after
        tb.store.write_manifest(build_manifest({**state, "decisions": state.get("decisions", []) + [record]}, tb))
    update = {"next_action": d["action"], "decisions": [record]}
    if d["action"] == "finish":
        update["stop_reason"] = d["reason"]
    return update



@_node("finish")
def finish(state: dict, tb, policy) -> dict:
    best_id = state.get("best_id")
    if best_id is None:
        status, final = "failed", None
    else:
        best = next(c for c in state["candidates"] if c["id"] == best_id)
        final = write_final(tb.store, best, state)
        status = "passed" if passes(best, policy.threshold) else "best_effort"
    update = {"status": status, "final": final}
    tally = check_tally(best) if best_id is not None else None
    if status == "best_effort" and tally and tally["failed"]:  # say which checks the returned image fails
        update["stop_reason"] = (f"{state.get('stop_reason')}; {len(tally['failed'])} of {tally['of']} checks fail: "
                                 + "; ".join(tally["failed"]))
    elif tally and tally["unanswered"]:  # nothing failed, but part of the plan was never checked: no pass
        update["status"] = "unverified"
        n = len(tally["unanswered"])
        update["stop_reason"] = (f"{state.get('stop_reason')}; unverified: no verifier could answer {n} of "
                                 f"{n + tally['of']} checks: " + "; ".join(tally["unanswered"]))
    from limner.agent._run.report import write_contact_sheet, write_report

    report = {"html": "report.html"}
    if best_id is not None:
        overlay = write_layout_overlay(tb.store, best, state.get("plan"))
        if overlay:
            report["layout"] = overlay
        report["contact_sheet"] = write_contact_sheet(tb.store, state["candidates"], best_id)
    update["report"] = report
    write_report(tb.store, {**state, **update})
    tb.store.write_manifest(build_manifest({**state, **update}, tb))
    reason = update.get("stop_reason", state.get("stop_reason"))
    tb.store.event({"event": "finished", "status": status, "stop_reason": reason})
    _emit({"event": "finished", "status": status, "stop_reason": reason, "final": final})
    return update

