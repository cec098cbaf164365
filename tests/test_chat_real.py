"""A chat edit as a user with a real model has it: tiny random components of Stable Diffusion 1.5's architecture
in a Hugging Face cache under its real repo id (offline), and an OpenAI-compatible LLM/VLM (the scripted server)
that plans, reads the person's turn and answers the checks, the edit's ``only`` check among them."""

from __future__ import annotations

import json
import re

import pytest

from family_contract import PLAN
from scripted_openai import Reply, ScriptedOpenAI
from tiny_pipelines import place_in_hf_cache, save_tiny_sd

pytestmark = pytest.mark.slow  # diffusion and a server

REMOVE_DOOR = {"action": "edit", "kind": "remove", "object": 1, "reply": "removing the door"}


def vlm(seen: list[str]):
    def answer(body: dict):
        schema = ((body.get("response_format") or {}).get("json_schema") or {}).get("name", "")
        seen.append(schema)
        if schema == "PlanAnswer":
            return Reply(content=json.dumps(PLAN))
        if schema == "Intent":  # the LLM reads the person's turn
            said = body["messages"][-1]["content"].rsplit("The person answered:", 1)[1].strip()
            return Reply(content=json.dumps({"action": "accept"} if said == "yes" else REMOVE_DOOR))
        if schema == "CheckAnswers":  # every check asked, answered yes (the edit's own ids included)
            ids = list(dict.fromkeys(re.findall(r"- ([\w-]+): ", body["messages"][-1]["content"][-1]["text"])))
            return Reply(content=json.dumps({"description": "a red bicycle on a street",
                                             "answers": [{"id": i, "reasoning": "looked", "answer": "yes"}
                                                         for i in ids]}))
        return Reply(status=500, error=f"no scripted answer for {schema}")
    return answer


def test_a_chat_removal_on_sd15_with_a_vlm(tmp_path, monkeypatch):
    import huggingface_hub.constants as hub_constants

    from limner.agent.runner import answer, run
    from limner.tools.generators.tiny import ensure_tiny_clip

    hub = tmp_path / "hub"
    place_in_hf_cache(save_tiny_sd(tmp_path / "sd"), hub, "stable-diffusion-v1-5/stable-diffusion-v1-5")
    place_in_hf_cache(ensure_tiny_clip(tmp_path / "clip"), hub, "openai/clip-vit-large-patch14")
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    seen: list[str] = []
    with ScriptedOpenAI() as server:
        server.responder = vlm(seen)
        monkeypatch.setenv("LIMNER_LLM_BASE_URL", server.base_url)
        monkeypatch.setenv("LIMNER_LLM_MODEL", "scripted-vlm")
        r = run("a red bicycle left of a blue door", model="sd15", policy="chat", interactive=True, out=tmp_path / "runs",
                seed=1, candidates=2, steps=2, width=64, height=64, planner="llm")
        r = answer(r.run_id, "yes")
        assert r.question["kind"] == "round"
        r = answer(r.run_id, "get rid of the door")
    assert "Intent" in seen and "CheckAnswers" in seen
    turn = r.question["history"][-1]
    assert (turn["action"], turn["kind"]) == ("edit", "remove") and turn["made"]
    plan = r.question["plan"]
    assert [o["name"] for o in plan["objects"]] == ["bicycle"] and plan["exclusions"][0]["name"] == "door"
    made = [c for c in r.candidates if c.id in turn["made"]]
    for c in made:
        assert c.edit["prompt"] == "a street"  # the plan's background, not the other objects' phrases
        questions = {q["id"]: q for s in c.scores.values() for q in (s.detail or {}).get("questions", [])}
        assert questions["only"]["counted"] == 1.0 and questions["x0"]["counted"] == 1.0  # the VLM answered them
        assert questions["preserved"]["passed"] is True
    assert r.question["best_id"] in turn["made"]
