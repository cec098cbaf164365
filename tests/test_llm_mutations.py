"""Hundreds of mutated LLM answers (``limner.bench.mutations``) through the real client and its callers:
each ends in a valid result or an ``LLMError`` (the caller's fallback), never another exception, and the call
allowance is never exceeded."""

import json
import math

import pytest

from limner.bench.mutations import mutations
from limner.agent.errors import LLMError
from tests.scripted_openai import Reply

from limner.bench.llm_faults import GOOD

GOOD_PLAN, GOOD_INTENT = GOOD["PlanAnswer"], GOOD["Intent"]


@pytest.fixture
def client(llm_env, monkeypatch):
    monkeypatch.setenv("LIMNER_LLM_TIMEOUT", "0.5")  # the stall mutation outlasts it; no retries, no backoff
    monkeypatch.setenv("LIMNER_LLM_MAX_RETRIES", "0")
    from limner.agent.config import Settings
    from limner.agent.llm import LLMClient

    def make(allowance):
        return LLMClient(Settings(), allowance=allowance)

    return make


def _answer(server, mutation):
    server.responder = lambda body: Reply(content=mutation.content, status=mutation.status, delay=mutation.delay,
                                          refusal=mutation.refusal)


def _use_plan(plan):
    """What a run does with a plan, short of generating: JSON-safe state, the checks scored, the layout read."""
    from limner.tools.verifiers.questions import dsg_score

    data = json.loads(json.dumps(plan.model_dump(), allow_nan=False))
    score, records = dsg_score(data["checks"], {c["id"]: {"p_yes": 0.9, "box": None} for c in data["checks"]})
    assert 0.0 <= score <= 1.0 and len(records) == len(data["checks"])
    for region in (data.get("layout") or {}).get("regions", []):
        x0, y0, x1, y1 = region["box"]
        assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1 and all(math.isfinite(v) for v in region["box"])


def test_mutated_plan_answers_end_in_a_plan_or_the_fallback(openai_server, client):
    from limner.agent.planners.llm import LLMPlanner
    from limner.agent.planners.rules import RulesPlanner

    cases = mutations(GOOD_PLAN, seed=0, stall=1.0)
    assert len(cases) >= 200
    outcomes = {"plan": 0, "fallback": 0}
    previous = RulesPlanner().plan("a red circle left of a blue square")
    for n, mutation in enumerate(cases):
        _answer(openai_server, mutation)
        llm = client(allowance=2)
        planner = LLMPlanner(llm)
        call = (planner.plan, lambda p: planner.replan(previous, "the square is missing"),
                lambda p: planner.revise(previous, "make the square green"))[n % 3]
        try:
            plan = call("a red circle left of a blue square")
        except LLMError:
            outcomes["fallback"] += 1
        except Exception as exc:  # a crash: name the mutation
            raise AssertionError(f"mutation {mutation.kind!r} crashed: {type(exc).__name__}: {exc}"[:500]) from exc
        else:
            _use_plan(plan)
            outcomes["plan"] += 1
        assert llm.calls <= 2, mutation.kind
    assert outcomes["plan"] > 10 and outcomes["fallback"] > 50, outcomes  # a bad layout alone is replaced, not fatal


def test_mutated_intent_answers_end_in_a_reading_or_the_fallback(openai_server, client):
    from limner.agent.edits import Intent

    cases = mutations(GOOD_INTENT, seed=1)
    for mutation in cases:
        _answer(openai_server, mutation)
        llm = client(allowance=2)
        try:
            reading = llm.structured([{"role": "user", "content": "the person said: green please"}], Intent,
                                     purpose="intent")
        except LLMError:
            continue
        except Exception as exc:
            raise AssertionError(f"mutation {mutation.kind!r} crashed: {type(exc).__name__}: {exc}"[:500]) from exc
        json.dumps(reading.model_dump(), allow_nan=False)
        assert llm.calls <= 2


def test_a_cyclic_plan_is_refused_by_the_schema_not_found_by_the_verifier():
    from limner.agent.plan import PlanDraft

    cyclic = json.loads(json.dumps(GOOD_PLAN))
    cyclic["checks"][0]["depends_on"] = ["r0"]
    with pytest.raises(ValueError, match="cycle"):
        PlanDraft(**cyclic)
    self_loop = json.loads(json.dumps(GOOD_PLAN))
    self_loop["checks"][1]["depends_on"] = ["o1"]
    with pytest.raises(ValueError, match="cycle"):
        PlanDraft(**self_loop)
