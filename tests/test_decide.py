"""The decide step on hand-built states: no diffusion, milliseconds per test.

A stand-in toolbox gives ``decide`` what it reads of a run's tools (the model's spec, the LLM calls one candidate
costs, which strategies cannot run, the measured rates), beside the policy; states are the JSON the graph carries.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from limner.agent._graph.decide import decide, round_size
from limner.agent.policy import Policy
from limner.tools.generators.models import ModelSpec

SD = ModelSpec("tiny", "builtin:tiny-random-sd", "sd", 10, 5.0, 64, 64)  # 20 NFE per candidate
FLUX = ModelSpec("flux", "black-forest-labs/FLUX.1-schnell", "flux", 4, 0.0, 64, 64)  # 4 NFE per candidate
PIXART = ModelSpec("pixart", "PixArt-alpha/PixArt-Sigma-XL-2-1024-MS", "pixart", 4, 4.5, 64, 64)


def Box(spec=SD, per_llm: int = 0, planner_kind: str = "rules", rates=None, **policy) -> tuple:
    """``(tools, policy)``: what ``decide`` is handed, as the graph hands it to every node."""
    return Tools(spec, per_llm, planner_kind, rates), Policy.model_validate(
        {"name": "t", "threshold": 0.9, "max_rounds": 5, "candidates_per_round": 4,
         "budgets": {"nfe": 1000, "llm_calls": 20, "seconds": 600},
         "actions": ["replan", "random"], "replan_after": 2, "max_replans": 1} | policy)


class Tools:
    """What ``decide`` reads from a run's toolbox (it holds no policy)."""

    def __init__(self, spec, per_llm: int, planner_kind: str, rates):
        self.spec = spec
        self.per_llm = per_llm
        self.planner_kind = planner_kind
        self.rates = rates  # measured pass rates (``_graph.rates.Rates``), or None: the policy's order

    def llm_calls_per_candidate(self, plan):
        return self.per_llm

    def strategy_unavailable(self, name, options=None):
        from limner.tools.search import STRATEGIES

        return STRATEGIES[name].unavailable(self.spec, options=options)


def state(**over) -> dict:
    base = {"round": 1, "spent": {"nfe": 80, "llm_calls": 0, "seconds": 10.0, "rounds": 1, "verifier_calls": 0},
            "best_score": 0.5, "best_id": "r01-c00", "no_improve": 0, "replans": 0, "strategy": None,
            "plan": {"version": 1, "checks": [{"id": "o0"}], "layout": None},
            "candidates": [{"id": "r01-c00", "score": 0.5, "scores": {}}], "last_round": {"n": 4, "start": 0.0}}
    return base | over


def test_the_threshold_finishes_the_run():
    d = decide(state(best_score=0.95), *Box())
    assert d["action"] == "finish" and d["reason"].startswith("threshold reached: best score 0.950 >= 0.9")


def test_each_budget_finishes_the_run_with_its_reason():
    assert "round budget spent: 5 of 5" in decide(state(round=5), *Box())["reason"]
    spent = {"nfe": 990, "llm_calls": 0, "seconds": 10.0, "rounds": 1, "verifier_calls": 0}
    assert decide(state(spent=spent), *Box())["reason"] == ("NFE budget spent: 10 of 1000 left, one candidate costs 20")
    spent = {"nfe": 80, "llm_calls": 19, "seconds": 10.0, "rounds": 1, "verifier_calls": 0}
    assert "LLM call budget spent: 1 of 20 left, scoring one candidate takes 5" in decide(state(spent=spent),
                                                                                       *Box(per_llm=5))["reason"]
    spent = {"nfe": 80, "llm_calls": 0, "seconds": 590.0, "rounds": 1, "verifier_calls": 0}
    assert decide(state(spent=spent, last_round={"n": 4, "start": 570.0}), *Box())["reason"].startswith("time budget")


def test_rounds_shrink_to_what_the_budgets_allow():
    spent = {"nfe": 940, "llm_calls": 0, "seconds": 10.0, "rounds": 1, "verifier_calls": 0}
    assert round_size(state(spent=spent), *Box()) == (3, "NFE budget spent: 60 of 1000 left, one candidate costs 20")
    spent = {"nfe": 80, "llm_calls": 14, "seconds": 10.0, "rounds": 1, "verifier_calls": 0}
    assert round_size(state(spent=spent), *Box(per_llm=3))[0] == 2


def test_a_replan_after_stalled_rounds_and_never_past_max_replans():
    assert decide(state(no_improve=2), *Box())["action"] == "replan"
    assert decide(state(no_improve=1), *Box())["action"] == "random"
    assert decide(state(no_improve=2, replans=1), *Box())["action"] == "random"  # max_replans reached
    spent = {"nfe": 80, "llm_calls": 20, "seconds": 10.0, "rounds": 1, "verifier_calls": 0}
    assert decide(state(no_improve=2, spent=spent), *Box(planner_kind="llm"))["action"] == "random"


def test_strategies_take_turns_after_a_round_without_progress():
    box = Box(actions=["zero_order", "random"])
    assert decide(state(), *box)["action"] == "zero_order"
    assert decide(state(strategy="zero_order", no_improve=0), *box)["action"] == "zero_order"
    assert decide(state(strategy="zero_order", no_improve=1), *box)["action"] == "random"


def test_what_the_model_cannot_do_is_recorded_with_the_decision():
    d = decide(state(), *Box(spec=FLUX, actions=["zero_order", "paths", "random"]))
    assert d["action"] == "random"
    assert any(s.startswith("zero_order: FLUX.1 pipelines draw their own") for s in d["skipped"])
    assert any(s.startswith("paths: Limner's denoising loop") for s in d["skipped"])
    d = decide(state(), *Box(spec=PIXART, actions=["layout", "random"]))
    assert d["skipped"] == ["layout: regional attention is implemented for UNet cross-attention and MMDiT joint "
                            "attention; PixArt is neither: generated from the prompt alone"]


def test_a_persons_directive_is_obeyed_within_the_budgets():
    assert decide(state(directive={"action": "finish", "reason": "the person accepted"}), *Box())["action"] == "finish"
    d = decide(state(directive={"action": "random", "reason": "the person asked for more"}), *Box())
    assert d == {"action": "random", "reason": "the person asked for more", "round_size": 4}
    d = decide(state(round=5, directive={"action": "random", "reason": "more"}), *Box())
    assert d["action"] == "finish" and "the round budget is spent" in d["reason"]


def table(p_by_action: dict[str, float], tries: int = 20, nfe_per_candidate: float = 20.0):
    """A rates table giving each action pass rate ``p`` in every context."""
    from limner.agent._graph.rates import FAILURES, PLAN_ORDER, Rates

    contexts = list(FAILURES) + [f"plan:{k}" for k in PLAN_ORDER] + ["plan:none"]
    return Rates({a: {c: {"tries": tries, "passes": round(p * tries), "nfe": tries * nfe_per_candidate}
                      for c in contexts} for a, p in p_by_action.items()})


def test_rounds_shrink_to_what_the_measured_pass_rate_needs():
    first = state(round=0, best_id=None, best_score=None, candidates=[], last_round={})
    assert round_size(first, *Box()) == (4, "candidates per round")  # no rates: full rounds
    n, why = round_size(first, *Box(rates=table({"random": 0.95})))
    assert n == 1 and "expected pass rate 0.91 per candidate (random, plan:unlocalised, 20 measured)" in why
    assert round_size(first, *Box(rates=table({"random": 0.6})))[0] == 3  # 1 - 0.41^3 >= 0.9 > 1 - 0.41^2
    assert round_size(first, *Box(rates=table({"random": 0.1})))[0] == 4  # never past candidates_per_round
    assert round_size(first, *Box(rates=table({"random": 0.95}, tries=5)))[0] == 4  # too few tries: unknown
    assert round_size(first, *Box(rates=table({"random": 0.6}), round_confidence=0.5))[0] == 1
    d = decide(state(candidates=[{"id": "r01-c00", "score": 0.5, "scores": {}, "plan_version": 1}]),
               *Box(rates=table({"random": 0.95})))
    assert d["action"] == "random" and d["round_size"] == 1
    assert d["rates"]["random"]["context"] == "unlocalised" and d["rates"]["random"]["p"] == 0.9091


def test_the_action_with_the_most_expected_passes_per_nfe_runs_and_the_policy_s_order_without_rates():
    best = [{"id": "r01-c00", "score": 0.5, "scores": {}, "plan_version": 1, "path": "x.png"}]
    box = Box(actions=["variation", "random"])
    assert decide(state(candidates=best), *box)["action"] == "variation"  # the policy's order
    cheap = table({"variation": 0.3, "random": 0.4}) 
    cheap.table["variation"] = {c: {**v, "nfe": v["tries"] * 8.0} for c, v in cheap.table["variation"].items()}
    d = decide(state(candidates=best), *Box(actions=["variation", "random"], rates=cheap))
    assert d["action"] == "variation" and "the best of 2 that apply" in d["reason"]  # 0.32/8 NFE beats 0.41/20
    d = decide(state(candidates=best), *Box(actions=["variation", "random"], rates=table({"variation": 0.1,
                                                                                         "random": 0.5})))
    assert d["action"] == "random" and d["rates"]["variation"]["gain_per_nfe"] < d["rates"]["random"]["gain_per_nfe"]
    half = decide(state(candidates=best), *Box(actions=["variation", "random"], rates=table({"random": 0.9})))
    assert half["action"] == "variation" and "no measured rate for variation" in half["reason"]


def test_a_malformed_rates_table_is_one_clear_line(tmp_path):
    import pytest

    from limner.agent._graph.rates import Rates, RatesError

    bad = tmp_path / "rates.json"
    for text, what in [("{", "Expecting property name"), ('{"model": "m"}', "missing field 'rates'"),
                       ('{"rates": {"random": {"plan:none": {"tries": 2, "passes": 3, "nfe": 1}}}}',
                        "passes 3 of 2 tries")]:
        bad.write_text(text)
        with pytest.raises(RatesError, match=what) as info:
            Rates.load(bad)
        assert str(info.value).endswith("regenerate it with `limner bench agent --write-rates FILE`")
        assert "\n" not in str(info.value)


@settings(max_examples=300, deadline=None)
@given(nfe=st.integers(0, 1000), llm=st.integers(0, 20), per_llm=st.integers(0, 6), rnd=st.integers(0, 6),
       best=st.none() | st.floats(0, 1), no_improve=st.integers(0, 4), n=st.integers(1, 8),
       steps=st.integers(1, 30), guidance=st.sampled_from([0.0, 1.0, 4.0]),
       p=st.none() | st.floats(0.0, 1.0))
def test_no_decision_ever_plans_a_round_past_a_budget(nfe, llm, per_llm, rnd, best, no_improve, n, steps, guidance,
                                                      p):
    spec = ModelSpec("m", "builtin:tiny-random-sd", "sd", steps, guidance, 64, 64)
    box = Box(spec=spec, per_llm=per_llm, candidates_per_round=n, rates=None if p is None else table({"random": p}))
    spent = {"nfe": nfe, "llm_calls": llm, "seconds": 1.0, "rounds": rnd, "verifier_calls": 0}
    d = decide(state(round=rnd, spent=spent, best_score=best, no_improve=no_improve), *box)
    if d["action"] == "finish":
        assert d["reason"] and d["round_size"] == 0
        return
    k = d["round_size"]
    policy = box[1]
    assert 1 <= k <= n and rnd < policy.max_rounds
    assert nfe + k * spec.nfe_per_candidate() <= policy.budgets.nfe
    assert llm + k * per_llm <= policy.budgets.llm_calls


def test_repairs_start_from_the_best_k_candidates_so_far_not_only_the_best():
    from limner.agent._graph.repair import parents, repair_targets

    def cand(cid, score, version=1):
        finding = {"kind": "object", "index": 0, "status": "missing", "box": None}
        return {"id": cid, "score": score, "plan_version": version,
                "scores": {"questions": {"score": score, "detail": {"findings": [finding]}}}}

    plan = {"version": 1, "objects": [{"name": "circle", "color": "red", "count": 1}], "relations": [],
            "layout": {"regions": [{"object": 0, "phrase": "a red circle", "box": [0.1, 0.1, 0.4, 0.4]}]}}
    candidates = [cand("r01-c00", 0.5), cand("r01-c01", 0.7), cand("r02-c00", 0.6), cand("r02-c01", 0.9, version=0)]
    s = {"plan": plan, "candidates": candidates, "best_id": "r01-c01",
         "repairs": [{"parent": "r01-c01", "object": 0}] * 2}  # the best's failure was tried twice
    assert [c["id"] for c in parents(s, 3)] == ["r01-c01", "r02-c00", "r01-c00"]  # another plan's: not a parent
    assert repair_targets(s, population=1) == []
    assert [t["parent"] for t in repair_targets(s, population=3)] == ["r02-c00", "r01-c00"]
    assert "is missing in r02-c00" in repair_targets(s, population=2)[0]["why"]


def _unanswered(version: int, counted) -> dict:
    return {"id": "r01-c00", "plan_version": version, "score": 0.2,
            "scores": {"questions": {"detail": {"questions": [{"question": "Is there a cat?", "counted": counted,
                                                               "passed": bool(counted)}]}}}}


def test_a_run_stops_when_no_verifier_can_judge_any_check():
    from limner.agent._graph.decide import cannot_be_judged

    warning = ("model shapes-tiny draws only circles, squares and triangles: 'cat' is outside what it can draw, so "
               "its images will not show it; use --model for a real model")
    state = {"plan": {"version": 1, "checks": [{"id": "o0", "question": "Is there a cat?"}]},
             "decisions": [{"step": "plan", "warning": warning}], "candidates": [_unanswered(1, None)]}
    reason = cannot_be_judged(state)
    assert reason and "no verifier can answer any of the plan's 1 checks on 1 candidates" in reason
    assert "model shapes-tiny draws only circles, squares and triangles" in reason
    assert cannot_be_judged({**state, "candidates": [_unanswered(1, 1.0)]}) is None  # an answered check
    # a model that can draw it, judged by nothing (a free-form brief with no VLM): the same stop, without the warning
    plain = cannot_be_judged({**state, "decisions": [{"step": "plan"}]})
    assert plain and "no verifier can answer" in plain and "draws only" not in plain
    assert cannot_be_judged({**state, "candidates": [_unanswered(0, None)]}) is None  # nothing for this plan yet
    no_questions = {**_unanswered(1, None), "scores": {"clipscore": {"score": 0.3, "detail": {}}}}
    assert cannot_be_judged({**state, "candidates": [no_questions]}) is None  # no question verifier in the run


def test_a_wrong_colour_is_repainted_in_a_margin_round_its_box_and_grounded_in_the_box():
    from limner.agent._graph.repair import repair_targets

    found = {"kind": "object", "index": 0, "status": "wrong_color", "box": [0.3, 0.3, 0.6, 0.6]}
    plan = {"version": 1, "objects": [{"name": "circle", "color": "red", "count": 1}], "relations": [],
            "layout": {"regions": [{"object": 0, "phrase": "a red circle", "box": [0.3, 0.3, 0.6, 0.6]}]}}
    s = {"plan": plan, "best_id": "r01-c00", "repairs": [], "candidates": [
        {"id": "r01-c00", "score": 0.5, "plan_version": 1,
         "scores": {"questions": {"score": 0.5, "detail": {"findings": [found]}}}}]}
    t = repair_targets(s, population=1)[0]
    assert t["recolor"] and t["ground"] == found["box"] and t["box"] == [0.24, 0.24, 0.66, 0.66]
