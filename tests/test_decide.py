"""The decide step on hand-built states: no diffusion, milliseconds per test.

A stand-in toolbox gives ``decide`` what it reads (the policy, the model's spec, the LLM calls one candidate
costs, which strategies cannot run); states are the JSON the graph carries.
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


class Box:
    """What ``decide`` reads from a run's toolbox."""

    def __init__(self, spec=SD, per_llm: int = 0, planner_kind: str = "rules", **policy):
        self.policy = Policy.model_validate({"name": "t", "threshold": 0.9, "max_rounds": 5, "candidates_per_round": 4,
                                             "budgets": {"nfe": 1000, "llm_calls": 20, "seconds": 600},
                                             "actions": ["replan", "random"], "replan_after": 2, "max_replans": 1}
                                            | policy)
        self.spec = spec
        self.per_llm = per_llm
        self.planner_kind = planner_kind

    def llm_calls_per_candidate(self, plan):
        return self.per_llm

    def strategy_unavailable(self, name):
        from limner.tools.search import STRATEGIES

        return STRATEGIES[name].unavailable(self.spec)


def state(**over) -> dict:
    base = {"round": 1, "spent": {"nfe": 80, "llm_calls": 0, "seconds": 10.0, "rounds": 1, "verifier_calls": 0},
            "best_score": 0.5, "best_id": "r01-c00", "no_improve": 0, "replans": 0, "strategy": None,
            "plan": {"version": 1, "checks": [{"id": "o0"}], "layout": None},
            "candidates": [{"id": "r01-c00", "score": 0.5, "scores": {}}], "last_round": {"n": 4, "start": 0.0}}
    return base | over


def test_the_threshold_finishes_the_run():
    d = decide(state(best_score=0.95), Box())
    assert d["action"] == "finish" and d["reason"].startswith("threshold reached: best score 0.950 >= 0.9")


def test_each_budget_finishes_the_run_with_its_reason():
    assert "round budget spent: 5 of 5" in decide(state(round=5), Box())["reason"]
    spent = {"nfe": 990, "llm_calls": 0, "seconds": 10.0, "rounds": 1, "verifier_calls": 0}
    assert decide(state(spent=spent), Box())["reason"] == ("NFE budget spent: 10 of 1000 left, one candidate costs 20")
    spent = {"nfe": 80, "llm_calls": 19, "seconds": 10.0, "rounds": 1, "verifier_calls": 0}
    assert "LLM call budget spent: 1 of 20 left, scoring one candidate takes 5" in decide(state(spent=spent),
                                                                                       Box(per_llm=5))["reason"]
    spent = {"nfe": 80, "llm_calls": 0, "seconds": 590.0, "rounds": 1, "verifier_calls": 0}
    assert decide(state(spent=spent, last_round={"n": 4, "start": 570.0}), Box())["reason"].startswith("time budget")


def test_rounds_shrink_to_what_the_budgets_allow():
    spent = {"nfe": 940, "llm_calls": 0, "seconds": 10.0, "rounds": 1, "verifier_calls": 0}
    assert round_size(state(spent=spent), Box()) == (3, "NFE budget spent: 60 of 1000 left, one candidate costs 20")
    spent = {"nfe": 80, "llm_calls": 14, "seconds": 10.0, "rounds": 1, "verifier_calls": 0}
    assert round_size(state(spent=spent), Box(per_llm=3))[0] == 2


def test_a_replan_after_stalled_rounds_and_never_past_max_replans():
    assert decide(state(no_improve=2), Box())["action"] == "replan"
    assert decide(state(no_improve=1), Box())["action"] == "random"
    assert decide(state(no_improve=2, replans=1), Box())["action"] == "random"  # max_replans reached
    spent = {"nfe": 80, "llm_calls": 20, "seconds": 10.0, "rounds": 1, "verifier_calls": 0}
    assert decide(state(no_improve=2, spent=spent), Box(planner_kind="llm"))["action"] == "random"


def test_strategies_take_turns_after_a_round_without_progress():
    box = Box(actions=["zero_order", "random"])
    assert decide(state(), box)["action"] == "zero_order"
    assert decide(state(strategy="zero_order", no_improve=0), box)["action"] == "zero_order"
    assert decide(state(strategy="zero_order", no_improve=1), box)["action"] == "random"


def test_what_the_model_cannot_do_is_recorded_with_the_decision():
    d = decide(state(), Box(spec=FLUX, actions=["zero_order", "paths", "random"]))
    assert d["action"] == "random"
    assert any(s.startswith("zero_order: FLUX.1 pipelines draw their own") for s in d["skipped"])
    assert any(s.startswith("paths: Limner's denoising loop") for s in d["skipped"])
    d = decide(state(), Box(spec=PIXART, actions=["layout", "random"]))
    assert d["skipped"] == ["layout: regional attention is implemented for UNet cross-attention and MMDiT joint "
                            "attention; PixArt is neither: generated from the prompt alone"]


def test_a_persons_directive_is_obeyed_within_the_budgets():
    assert decide(state(directive={"action": "finish", "reason": "the person accepted"}), Box())["action"] == "finish"
    d = decide(state(directive={"action": "random", "reason": "the person asked for more"}), Box())
    assert d == {"action": "random", "reason": "the person asked for more", "round_size": 4}
    d = decide(state(round=5, directive={"action": "random", "reason": "more"}), Box())
    assert d["action"] == "finish" and "the round budget is spent" in d["reason"]


@settings(max_examples=300, deadline=None)
@given(nfe=st.integers(0, 1000), llm=st.integers(0, 20), per_llm=st.integers(0, 6), rnd=st.integers(0, 6),
       best=st.none() | st.floats(0, 1), no_improve=st.integers(0, 4), n=st.integers(1, 8),
       steps=st.integers(1, 30), guidance=st.sampled_from([0.0, 1.0, 4.0]))
def test_no_decision_ever_plans_a_round_past_a_budget(nfe, llm, per_llm, rnd, best, no_improve, n, steps, guidance):
    spec = ModelSpec("m", "builtin:tiny-random-sd", "sd", steps, guidance, 64, 64)
    box = Box(spec=spec, per_llm=per_llm, candidates_per_round=n)
    spent = {"nfe": nfe, "llm_calls": llm, "seconds": 1.0, "rounds": rnd, "verifier_calls": 0}
    d = decide(state(round=rnd, spent=spent, best_score=best, no_improve=no_improve), box)
    if d["action"] == "finish":
        assert d["reason"] and d["round_size"] == 0
        return
    k = d["round_size"]
    assert 1 <= k <= n and rnd < box.policy.max_rounds
    assert nfe + k * spec.nfe_per_candidate() <= box.policy.budgets.nfe
    assert llm + k * per_llm <= box.policy.budgets.llm_calls
