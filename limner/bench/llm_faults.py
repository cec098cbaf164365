"""Mutated LLM answers for every kind of call, alone and inside whole runs: the reliability bench's LLM faults.

``mutated_calls`` sends each mutation of a good answer (``mutations.mutations``) through the real client and
the real caller: the planner's plan, re-plan and revise, a chat answer's reading, the VLM judge's rubric and
pairwise answers, the VLM's batched check answers and its per-question yes/no. Each must end in a valid result
or ``LLMError`` (the caller's fallback), within the call allowance.

``mutated_runs`` runs whole runs (LLM planner, VLM judge, checks answered by the VLM) against a server that
answers every request with a mutation of the right answer for its schema: each run must end ``passed``,
``best_effort`` or ``failed`` with a reason, with ``final.png`` whenever a candidate exists, within its LLM
budget. The server is the scripted one (``scripted_openai``) on 127.0.0.1, with a fake API key in the
base URL and as the bearer token, so the bench can look for it in every file afterwards.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from limner.bench.mutations import mutations
from limner.bench.scripted_openai import Reply, ScriptedOpenAI

FAKE_KEY = "sk-reliability-fake-9d2e71"
URL_KEY = "url-reliability-fake-5c3a"
GOOD = {
    "PlanAnswer": {
        "reasoning": "two objects and a relation", "rewritten_prompt": "a red circle left of a blue square",
        "objects": [{"name": "circle", "count": 1, "color": "red"}, {"name": "square", "count": 1, "color": "blue"}],
        "relations": [{"subject": 0, "relation": "left of", "object": 1}],
        "checks": [{"id": "o0", "question": "Is there a circle?", "kind": "exists", "object": 0},
                   {"id": "o1", "question": "Is there a square?", "kind": "exists", "object": 1},
                   {"id": "r0", "question": "Is the circle left of the square?", "kind": "relation", "object": 0,
                    "relation": 0, "depends_on": ["o0", "o1"]}],
        "layout": {"regions": [{"phrase": "a red circle", "box": [0.05, 0.3, 0.45, 0.7], "object": 0},
                               {"phrase": "a blue square", "box": [0.55, 0.3, 0.95, 0.7], "object": 1}]},
    },
    "Intent": {"action": "edit", "kind": "recolor", "candidate": "r01-c00", "object": 1, "color": "green",
               "reply": "making the square green"},
    "Judgement": {k: {"score": 7, "reason": "fine"} for k in
                  ("prompt_adherence", "object_correctness", "composition", "quality", "artifacts")},
    "Preference": {"winner": "A", "reason": "the circle is on the left"},
    "CheckAnswers": {"description": "a red circle left of a blue square",
                     "answers": [{"id": "o0", "reasoning": "I see it", "answer": "yes"},
                                 {"id": "o1", "answer": "yes"}, {"id": "r0", "answer": "no"}]},
    "YesNo": {"answer": "yes"},
}


def llm_environment(server: ScriptedOpenAI, timeout: float = 0.5, retries: int = 0):
    """Point Limner at ``server`` with the fake key (as a bearer token and inside the base URL)."""
    from limner.bench.scoped import scoped_env

    host = server.base_url.removeprefix("http://")
    return scoped_env({"LIMNER_LLM_BASE_URL": f"http://alice:{URL_KEY}@{host}", "LIMNER_LLM_MODEL": "mutated-model",
                       "OPENAI_API_KEY": FAKE_KEY, "LIMNER_LLM_TIMEOUT": str(timeout),
                       "LIMNER_LLM_MAX_RETRIES": str(retries)})


def _schema_of(body: dict) -> str:
    fmt = body.get("response_format") or {}
    name = (fmt.get("json_schema") or {}).get("name")
    if name:
        return name
    text = json.dumps(body.get("messages", []))[:20000]
    for name in GOOD:  # a server without json_schema support: the schema is in the system message
        if f'"title": "{name}"' in text:
            return name
    return "YesNo"


def _reply(mutation) -> Reply:
    return Reply(content=mutation.content, status=mutation.status, delay=mutation.delay, refusal=mutation.refusal)


def _calls(kind: str):
    """(schema, fn(llm)) for one kind of call: the real caller, as a run makes it."""
    from PIL import Image

    image = Image.new("RGB", (64, 64), (200, 30, 30))
    plan = GOOD["PlanAnswer"]
    if kind in ("plan", "replan", "revise"):
        from limner.agent.planners.llm import LLMPlanner
        from limner.agent.planners.rules import RulesPlanner

        previous = RulesPlanner().plan("a red circle left of a blue square")

        def call(llm):
            planner = LLMPlanner(llm)
            result = {"plan": lambda: planner.plan("a red circle left of a blue square"),
                      "replan": lambda: planner.replan(previous, "the square is missing"),
                      "revise": lambda: planner.revise(previous, "make the square green")}[kind]()
            json.dumps(result.model_dump(), allow_nan=False)
        return "PlanAnswer", call
    if kind == "intent":
        from limner.agent.edits import Scene, read

        def call(llm):
            read("make the square green", "round", Scene.of(plan, [{"id": "r01-c00", "score": 0.5}]), llm=llm)
        return "Intent", call
    if kind in ("judge", "pairwise"):
        from limner.tools.verifiers.vlm_judge import VLMJudge

        def call(llm):
            judge = VLMJudge(llm, max_workers=1)
            if kind == "judge":
                [score] = judge.score([image], ["a red circle"])
                assert 0.0 <= score.score <= 1.0
            else:
                assert judge.compare(image, image, "a red circle").winner in {"A", "B", "tie"}
        return ("Judgement" if kind == "judge" else "Preference"), call
    from limner.tools.verifiers.answerers import VLMAnswerer

    def call(llm):
        answers = VLMAnswerer(llm, mode="batched" if kind == "vqa" else "per_question").answer(image, plan)
        assert all(0.0 <= a["p_yes"] <= 1.0 for k, a in answers.items() if k != "_critique")
    return ("CheckAnswers" if kind == "vqa" else "YesNo"), call


KINDS = ("plan", "replan", "revise", "intent", "judge", "pairwise", "vqa", "yes/no")


def mutated_calls(seed: int = 0, per_kind: int | None = None) -> list[dict]:
    """Every mutation of every kind of call's answer through the real client: a row per kind."""
    from limner.agent.config import Settings
    from limner.agent.errors import LLMError
    from limner.agent.llm import LLMClient

    rows = []
    with ScriptedOpenAI() as server, llm_environment(server):
        for k, kind in enumerate(KINDS):
            schema, call = _calls(kind)
            good = GOOD[schema]
            cases = mutations(good, seed=seed + k, stall=1.0)
            if per_kind is not None:
                cases = random.Random(seed + k).sample(cases, min(per_kind, len(cases)))
            row = {"kind": kind, "answers": 0, "valid": 0, "fallback": 0, "crashes": [], "over_allowance": 0}
            for mutation in cases:
                server.responder = lambda body, m=mutation: _reply(m)
                llm = LLMClient(Settings(), allowance=2)
                row["answers"] += 1
                try:
                    call(llm)
                    row["valid"] += 1
                except LLMError:
                    row["fallback"] += 1
                except Exception as exc:  # a crash: the caller would have raised mid-run
                    row["crashes"].append(f"{mutation.kind}: {type(exc).__name__}: {exc}"[:300])
                row["over_allowance"] += llm.calls > 2
            rows.append(row)
    return rows


def mutated_runs(work: Path, runs: int, seed: int = 0) -> dict:
    """Whole runs against a server that mutates every answer; one row."""
    import yaml

    from limner.agent.runner import run

    policy = work / "llm-policy.yaml"
    policy.parent.mkdir(parents=True, exist_ok=True)
    policy.write_text(yaml.safe_dump({
        "name": "mutated-llm", "planner": "auto", "threshold": 0.9, "max_rounds": 3, "candidates_per_round": 2,
        "budgets": {"nfe": 400, "llm_calls": 12, "seconds": 120},
        "verifiers": [{"name": "clipscore"}, {"name": "vlm-judge"},
                      {"name": "questions", "options": {"answerer": "vlm"}}],
        "actions": ["replan", "random"], "replan_after": 1, "max_replans": 2, "generation": {"steps": 2}}))
    rng = random.Random(seed)
    pools = {name: mutations(good, seed=seed + i) for i, (name, good) in enumerate(GOOD.items())}
    row = {"runs": 0, "ended": {}, "crashes": [], "no_final": 0, "over_budget": 0, "llm_requests": 0}
    with ScriptedOpenAI() as server, llm_environment(server, timeout=2.0):
        lock_rng = rng

        def responder(body):
            schema = _schema_of(body)
            if lock_rng.random() < 0.25:  # a good answer now and then, so runs get past their plan
                return Reply(content=json.dumps(GOOD[schema]))
            return _reply(lock_rng.choice(pools[schema]))

        server.responder = responder
        for i in range(runs):
            row["runs"] += 1
            try:
                result = run("a red circle left of a blue square", seed=i, out=work / "mutated-runs", policy=str(policy))
            except Exception as exc:
                row["crashes"].append(f"run {i}: {type(exc).__name__}: {exc}"[:300])
                continue
            row["ended"][result.status] = row["ended"].get(result.status, 0) + 1
            manifest = json.loads(Path(result.manifest_path).read_text())
            if manifest["candidates"] and not (result.final_path and Path(result.final_path).is_file()):
                row["no_final"] += 1
            if not result.stop_reason:
                row["crashes"].append(f"run {i}: no stop reason")
            row["over_budget"] += result.llm_calls > manifest["budgets"]["limits"]["llm_calls"]
        row["llm_requests"] = len(server.requests)
    return row


def secrets_in(*roots: Path) -> list[str]:
    """Files under ``roots`` that hold the fake key, the URL's key, or its Basic-auth form."""
    import base64

    needles = [s.encode() for s in (FAKE_KEY, URL_KEY, base64.b64encode(f"alice:{URL_KEY}".encode()).decode())]
    found = []
    for root in roots:
        for path in Path(root).rglob("*"):
            if path.is_file() and not path.is_symlink():
                data = path.read_bytes()
                found += [f"{path}: {n.decode()[:6]}..." for n in needles if n in data]
    return found

