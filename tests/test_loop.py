"""The plan -> generate -> verify -> decide loop: stops, budgets, best candidate, manifest."""

import json

from PIL import Image

from limner.agent import run
from helpers import manifest, policy_file
from scripted_openai import Reply


import pytest

pytestmark = pytest.mark.slow  # end to end: diffusion, subprocesses or servers


def test_stops_when_the_threshold_is_reached(tmp_path):
    result = run("two red circles and a blue square", seed=1, out=tmp_path, policy=policy_file(tmp_path, threshold=0.0))
    assert result.status == "passed"
    assert result.rounds == 1 and result.stop_reason.startswith("threshold reached")
    m = manifest(result)
    assert m["decisions"][-1]["action"] == "finish"


def test_stops_at_the_round_budget_with_the_best_candidate(tmp_path):
    result = run("a blue square", seed=2, out=tmp_path, policy=policy_file(tmp_path, max_rounds=3))
    m = manifest(result)
    assert result.status == "best_effort" and result.rounds == 3
    assert result.stop_reason == "round budget spent: 3 of 3 rounds"
    scores = {c["id"]: c["score"] for c in m["candidates"]}
    assert len(scores) == 6
    best = max(scores, key=lambda k: (scores[k], -list(scores).index(k)))
    assert result.best_id == best == m["best"]["id"]
    assert result.score == max(scores.values())
    final = Image.open(result.final_path)
    chosen = Image.open(tmp_path / result.run_id / m["best"]["path"])
    assert list(final.convert("RGB").getdata()) == list(chosen.convert("RGB").getdata())


def test_never_exceeds_the_nfe_budget(tmp_path):
    # one candidate costs 4 steps x 2 (CFG) = 8; 20 allows 2 in round 1, then 0 more fit (4 left)
    result = run("a circle", seed=3, out=tmp_path, policy=policy_file(tmp_path, budgets={"nfe": 20}))
    assert result.nfe == 16 <= 20
    assert result.stop_reason.startswith("NFE budget spent: 4 of 20 left")
    # a budget that is not a multiple of the round's cost cuts the last round
    result = run("a circle", seed=3, out=tmp_path, policy=policy_file(tmp_path, budgets={"nfe": 40}))
    assert result.nfe == 40 and [c["round"] for c in manifest(result)["candidates"]] == [1, 1, 2, 2, 3]


def test_stops_at_the_time_budget(tmp_path):
    result = run("a circle", seed=4, out=tmp_path, policy=policy_file(tmp_path, budgets={"seconds": 0.01}))
    assert result.rounds == 1 and result.stop_reason.startswith("time budget")
    assert result.final_path is not None


class ConstantVerifier:
    """Scores every image 0.5: no round ever improves on the first, so a re-plan must follow."""

    name = "constant"
    differentiable = False
    llm_calls_per_image = 0

    def score(self, images, prompts):
        from limner.tools.verifiers import Score

        return [Score(score=0.5, raw=0.5) for _ in images]


def test_replans_after_rounds_without_progress(tmp_path, monkeypatch):
    from limner.tools import verifiers

    monkeypatch.setitem(verifiers.VERIFIERS, "constant", lambda **_: ConstantVerifier())
    policy = policy_file(tmp_path, max_rounds=4, replan_after=2, max_replans=1, verifiers=[{"name": "constant"}])
    result = run("a red circle", seed=5, out=tmp_path, policy=policy)
    m = manifest(result)
    actions = [d["action"] for d in m["decisions"]]
    # round 1 sets the best; rounds 2 and 3 bring nothing, so after round 3 the planner re-plans
    assert actions == ["plan", "random", "random", "replan", "replan", "finish"]
    assert [p["version"] for p in m["plans"]] == [1, 2]
    assert [c["plan_version"] for c in m["candidates"]] == [1, 1, 1, 1, 1, 1, 2, 2]
    assert m["candidates"][-1]["action"] == "replan" and m["candidates"][-1]["strategy"] == "random"
    assert result.best_id == "r01-c00"  # ties keep the earliest best


def test_manifest_is_complete_and_final_png_carries_the_settings(tmp_path):
    result = run("two red circles and a blue square", seed=1, out=tmp_path,
                 policy=policy_file(tmp_path, max_rounds=1))
    m = manifest(result)
    for key in ("brief", "policy", "plan", "planner", "candidates", "decisions", "budgets", "status", "stop_reason",
                "versions", "model"):
        assert m[key] is not None, key
    assert m["planner"] == "rules" and m["versions"]["torch"]
    c = m["candidates"][0]
    for key in ("id", "seed", "model", "settings", "strategy", "nfe", "scores", "path", "sha256", "batch_seeds"):
        assert key in c, key
    assert c["scores"]["clipscore"]["raw"] is not None
    text = Image.open(result.final_path).text
    best = next(x for x in m["candidates"] if x["id"] == m["best"]["id"])
    assert "two red circles" in text["parameters"] and f"Seed: {best['seed']}" in text["parameters"]
    assert json.loads(text["limner"])["run_id"] == result.run_id
    # the result carries the same candidates, typed: the manifest's JSON is each one's record
    assert [c.record() for c in result.candidates] == m["candidates"]
    typed = next(c for c in result.candidates if c.id == result.best_id)
    assert typed.checks() == result.checks and typed.scores["clipscore"].score == best["scores"]["clipscore"]["score"]


def test_llm_budget_counts_vlm_judge_calls(tmp_path, llm_env):
    judgement = json.dumps({k: {"score": 5, "reason": "ok"} for k in
                            ["prompt_adherence", "object_correctness", "composition", "quality", "artifacts"]})
    llm_env.script(*[Reply(content=judgement) for _ in range(3)])
    policy = policy_file(tmp_path, planner="rules", budgets={"llm_calls": 3},
                         verifiers=[{"name": "clipscore"}, {"name": "vlm-judge", "weight": 2}])
    result = run("a red circle", seed=6, out=tmp_path, policy=policy)
    assert result.llm_calls == 3 == len(llm_env.requests)
    assert result.stop_reason.startswith("LLM call budget spent: 0 of 3 left")
    c = manifest(result)["candidates"][0]
    assert c["scores"]["vlm-judge"]["score"] == 0.5
    assert c["score"] == round((c["scores"]["clipscore"]["score"] + 2 * 0.5) / 3, 6)


def test_llm_planner_path_end_to_end(tmp_path, llm_env):
    plan = json.dumps({"rewritten_prompt": "a vivid red circle on white", "objects": [{"name": "circle", "color": "red"}]})
    llm_env.script(Reply(content=plan))
    result = run("a red circle", seed=7, out=tmp_path, policy=policy_file(tmp_path, planner="llm", max_rounds=1))
    m = manifest(result)
    assert m["planner"] == "llm:scripted-model" and result.llm_calls == 1
    assert m["candidates"][0]["prompt"] == "a vivid red circle on white"
    assert m["llm"]["endpoint"].startswith("http://127.0.0.1") and "sk-" not in json.dumps(m)


def test_auto_planner_falls_back_to_rules_when_the_llm_fails(tmp_path, llm_env):
    llm_env.script(Reply(status=500), Reply(status=500))
    result = run("a red circle", seed=8, out=tmp_path, policy=policy_file(tmp_path, planner="auto", max_rounds=1))
    m = manifest(result)
    assert m["planner"] == "rules" and "LLM planner failed" in m["decisions"][0]["reason"]


def test_a_failed_run_keeps_its_best_candidate_and_resumes(tmp_path, llm_env):
    from limner.agent import resume

    judgement = json.dumps({k: {"score": 8, "reason": "ok"} for k in
                            ["prompt_adherence", "object_correctness", "composition", "quality", "artifacts"]})
    # round 1 is judged; in round 2 the endpoint fails (500, then 500 on the retry)
    llm_env.script(Reply(content=judgement), Reply(status=500), Reply(status=500))
    policy = policy_file(tmp_path, planner="rules", max_rounds=2, candidates_per_round=1,
                         verifiers=[{"name": "vlm-judge"}])
    result = run("a red circle", seed=10, out=tmp_path, policy=policy)
    assert result.status == "failed" and "HTTP 500" in result.stop_reason
    assert result.final_path is not None and result.best_id == "r01-c00"  # the best so far is handed back
    assert manifest(result)["status"] == "failed"
    # the endpoint is back: the run continues from its checkpoint without regenerating round 2's candidate
    llm_env.script(Reply(content=judgement))
    resumed = resume(result.run_id)
    assert resumed.status == "best_effort" and resumed.rounds == 2 and resumed.llm_calls == 2
    saved = [json.loads(line)["id"] for line in (tmp_path / result.run_id / "events.jsonl").read_text().splitlines()
             if json.loads(line)["event"] == "candidate_saved"]
    assert saved == ["r01-c00", "r02-c00"]


def test_question_verifier_in_the_loop_records_answers_and_feeds_the_critique(tmp_path):
    policy = policy_file(tmp_path, max_rounds=3, replan_after=1, max_replans=1, ensemble="rank",
                         verifiers=[{"name": "clipscore"}, {"name": "questions", "options": {"answerer": "parser"}}])
    result = run("a red circle left of a blue square", seed=11, out=tmp_path, policy=policy)
    m = manifest(result)
    first = m["candidates"][0]["scores"]["questions"]
    assert [q["id"] for q in first["detail"]["questions"]] == ["o0", "o0-color", "o1", "o1-color", "r0"]
    assert m["verifiers"][1] == {"name": "questions", "answerer": "parser", "oracle": True}
    # what a re-plan would be told: every failed check of the best candidate, in words
    from limner.agent._graph.nodes.core import critique_of

    critique = critique_of({"candidates": m["candidates"], "best_id": m["best"]["id"], "policy": m["policy"]})
    best = next(c for c in m["candidates"] if c["id"] == m["best"]["id"])
    failed = [q["question"] for q in best["scores"]["questions"]["detail"]["questions"] if not q["passed"]]
    assert failed and all(f"failed check: {q}" in critique for q in failed)
