"""The OpenAI-compatible client, driven by the real ``openai`` package against a local scripted server."""

import json
import sqlite3

import pytest

from limner.agent.config import load_settings
from limner.agent.errors import BudgetExhausted, LLMError
from limner.agent.llm import LLMClient
from limner.agent.llm.log import CallLog
from limner.agent.plan import PlanDraft
from limner.agent.planners.llm import LLMPlanner
from scripted_openai import Reply

GOOD = json.dumps({"rewritten_prompt": "two red circles and a blue square, white background",
                   "objects": [{"name": "circle", "count": 2, "color": "red"}, {"name": "square", "color": "blue"}],
                   "checks": [{"id": "q1", "question": "Is there a circle?", "object": 0}]})


def client(tmp_path, **kw):
    return LLMClient(load_settings(), log=CallLog(tmp_path / "log.sqlite"), run_id="run-x", **kw)


def ask(c):
    return c.structured([{"role": "user", "content": "plan"}], PlanDraft, purpose="plan")


def test_valid_answer_is_validated_and_json_schema_is_requested(llm_env, tmp_path):
    llm_env.script(Reply(content=GOOD))
    draft = ask(client(tmp_path))
    assert draft.objects[0].count == 2
    fmt = llm_env.requests[0]["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "PlanDraft"
    # a bounded answer: a model that ignores the format (SmolLM2 behind `transformers serve` does) stops there
    assert llm_env.requests[0]["max_tokens"] == 2048


def test_the_answer_length_is_a_setting(llm_env, tmp_path, monkeypatch):
    monkeypatch.setenv("LIMNER_LLM_MAX_TOKENS", "300")
    llm_env.script(Reply(content=GOOD))
    ask(client(tmp_path))
    assert llm_env.requests[0]["max_tokens"] == 300


def test_the_temperature_is_a_setting_dropped_once_a_server_refuses_it(llm_env, tmp_path, monkeypatch):
    llm_env.script(Reply(content=GOOD))
    ask(client(tmp_path))
    assert "temperature" not in llm_env.requests[0]  # unset: the server's own
    monkeypatch.setenv("LIMNER_LLM_TEMPERATURE", "0")
    llm_env.script(Reply(content=GOOD), Reply(status=400, error="Unsupported value: 'temperature' does not "
                                                                 "support 0 with this model."), Reply(content=GOOD))
    c = client(tmp_path)
    ask(c)
    assert llm_env.requests[1]["temperature"] == 0
    ask(c)  # a server that takes no temperature: asked again without one, and never with one after
    assert "temperature" in llm_env.requests[2] and "temperature" not in llm_env.requests[3]
    monkeypatch.setenv("LIMNER_LLM_TEMPERATURE", "3")
    with pytest.raises(Exception, match="temperature"):
        client(tmp_path)


def test_malformed_json_gets_one_repair(llm_env, tmp_path):
    llm_env.script(Reply(content="Sure! Here is the plan: {oops"), Reply(content=GOOD))
    c = client(tmp_path)
    assert ask(c).rewritten_prompt.startswith("two red")
    assert c.calls == 2
    assert "not valid" in llm_env.requests[1]["messages"][-1]["content"]


def test_still_invalid_after_repair_is_a_clear_failure(llm_env, tmp_path):
    llm_env.script(Reply(content="{}"), Reply(content='{"objects": 3}'))
    with pytest.raises(LLMError, match="still invalid after one repair"):
        ask(client(tmp_path))
    assert len(llm_env.requests) == 2


def test_server_error_is_retried_with_backoff(llm_env, tmp_path):
    llm_env.script(Reply(status=500), Reply(content=GOOD))
    assert ask(client(tmp_path)).objects
    assert len(llm_env.requests) == 2


def test_persistent_server_error_fails_with_one_line(llm_env, tmp_path):
    llm_env.script(Reply(status=500), Reply(status=500))
    with pytest.raises(LLMError, match="HTTP 500") as info:
        ask(client(tmp_path))
    assert "\n" not in str(info.value)


def test_slow_answer_times_out(llm_env, tmp_path, monkeypatch):
    monkeypatch.setenv("LIMNER_LLM_TIMEOUT", "0.3")
    monkeypatch.setenv("LIMNER_LLM_MAX_RETRIES", "0")
    llm_env.script(Reply(content=GOOD, delay=1.5))
    with pytest.raises(LLMError, match="did not answer within 0.3s"):
        ask(client(tmp_path))


def test_server_without_json_schema_support_falls_back(llm_env, tmp_path):
    llm_env.script(Reply(status=400, error="response_format json_schema is not supported"), Reply(content=GOOD))
    c = client(tmp_path)
    assert ask(c).objects
    assert llm_env.requests[1]["response_format"] == {"type": "json_object"}


def test_refusal_is_reported(llm_env, tmp_path):
    llm_env.script(Reply(content=None, refusal="I can't help with that."))
    with pytest.raises(LLMError, match="refused"):
        ask(client(tmp_path))


def test_allowance_is_never_exceeded(llm_env, tmp_path):
    llm_env.script(Reply(content="not json"))
    c = client(tmp_path, allowance=1)
    with pytest.raises(LLMError, match="no LLM budget is left"):
        ask(c)
    assert len(llm_env.requests) == 1
    with pytest.raises(BudgetExhausted):
        ask(c)
    assert len(llm_env.requests) == 1


def test_calls_are_logged_without_the_api_key(llm_env, tmp_path):
    llm_env.script(Reply(content=GOOD))
    ask(client(tmp_path))
    assert llm_env.headers[0]["authorization"] == "Bearer sk-test-secret-key-123"  # it was sent...
    rows = sqlite3.connect(tmp_path / "log.sqlite").execute("SELECT * FROM llm_calls").fetchall()
    assert len(rows) == 1 and rows[0][2] == "run-x"
    assert "sk-test-secret" not in json.dumps(rows)  # ...and never logged


def test_llm_planner_produces_a_plan_that_names_its_planner(llm_env, tmp_path):
    llm_env.script(Reply(content=GOOD), Reply(content=GOOD))
    planner = LLMPlanner(client(tmp_path))
    plan = planner.plan("two red circles and a blue square")
    assert plan.planner == "llm:scripted-model" and plan.version == 1
    assert plan.prompt == "two red circles and a blue square"
    again = planner.replan(plan, "best score 0.3")
    assert again.version == 2
    assert "best score 0.3" in llm_env.requests[1]["messages"][-1]["content"]


def _with_layout(*boxes) -> str:
    data = json.loads(GOOD)
    data["layout"] = {"regions": [{"phrase": f"a thing {i}", "box": list(b), "object": 0} for i, b in enumerate(boxes)]}
    return json.dumps(data)


def test_an_llm_layout_with_overlapping_boxes_is_sent_back_with_the_reason_and_the_fixed_one_is_used(llm_env, tmp_path):
    bad = _with_layout((0.1, 0.1, 0.6, 0.6), (0.2, 0.2, 0.5, 0.5))
    good = _with_layout((0.05, 0.3, 0.45, 0.7), (0.55, 0.3, 0.95, 0.7))
    llm_env.script(Reply(content=bad), Reply(content=good))
    plan = LLMPlanner(client(tmp_path)).plan("two red circles and a blue square")
    assert [r.box for r in plan.layout.regions] == [[0.05, 0.3, 0.45, 0.7], [0.55, 0.3, 0.95, 0.7]]
    assert "overlap by 100%" in json.dumps(llm_env.requests[1]["messages"])


def test_an_llm_layout_that_stays_outside_the_canvas_is_rejected_not_passed_on(llm_env, tmp_path):
    bad = _with_layout((0.1, 0.1, 1.6, 0.6))
    llm_env.script(Reply(content=bad), Reply(content=bad))
    plan = LLMPlanner(client(tmp_path)).plan("two red circles and a blue square")
    assert all(0 <= v <= 1 for r in plan.layout.regions for v in r.box)  # the rules solver's boxes, not the LLM's
    assert len(plan.layout.regions) == 3  # one per instance
    assert any("layout was not valid" in note and "outside the canvas" in note for note in plan.crosscheck)
    assert len(llm_env.requests) == 2  # sent back once with the reason, then the plan went on without it


def test_reasoning_models_that_reject_max_tokens_get_max_completion_tokens(llm_env, tmp_path):
    llm_env.script(Reply(status=400, error="Unsupported parameter: 'max_tokens' is not supported with this model. "
                                             "Use 'max_completion_tokens' instead."),
                   Reply(content="yes"))
    p = client(tmp_path).yes_probability([{"role": "user", "content": "Is it red?"}], purpose="vqa")
    assert p == 1.0
    assert "max_tokens" in llm_env.requests[0] and "max_tokens" not in llm_env.requests[1]
    assert llm_env.requests[1]["max_completion_tokens"] == 1


def test_the_planner_is_told_the_target_models_family_and_limits(llm_env, tmp_path):
    from limner.tools.generators.models import ModelSpec

    llm_env.script(Reply(content=GOOD))
    flux = ModelSpec("flux-schnell", "black-forest-labs/FLUX.1-schnell", "flux", 4, 0.0, 1024, 1024)
    LLMPlanner(client(tmp_path), target=flux).plan("a cat")
    messages = llm_env.requests[0]["messages"]
    roles = [m["role"] for m in messages]  # one system message (the schema joins it), few-shot turns, the brief
    assert roles[0] == "system" and roles[-1] == "user" and roles.count("system") == 1
    assert roles[1:-1] == ["user", "assistant"] * ((len(roles) - 2) // 2) and len(roles) > 2
    text = messages[-1]["content"]
    assert "FLUX.1" in text and "256 tokens" in text and "ignores negative prompts" in text
    assert "reasoning" in json.dumps(llm_env.requests[0]["response_format"]["json_schema"]["schema"]["properties"])
    assert list(llm_env.requests[0]["response_format"]["json_schema"]["schema"]["properties"])[0] == "reasoning"
