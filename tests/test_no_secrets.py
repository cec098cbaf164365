"""No secret reaches a file: an API key, a key in the base URL (``https://user:key@host``) and the authorization
header are sent to the endpoint, and found in no file of the run, the batch, the report or the call log."""

import base64
import json
from pathlib import Path

from limner.agent.runner import run
from tests.helpers import policy_file
from tests.scripted_openai import Reply

KEY = "sk-fake-key-7f3a9c"
URL_KEY = "url-secret-42b1"
BASIC = base64.b64encode(f"alice:{URL_KEY}".encode()).decode()  # httpx sends a URL's user:key as Basic auth
SECRETS = (KEY, URL_KEY, BASIC)


def _files(*roots: Path):
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                yield path


def test_no_secret_in_any_file_limner_writes(tmp_path, openai_server, monkeypatch, limner_home):
    host = openai_server.base_url.removeprefix("http://")
    monkeypatch.setenv("LIMNER_LLM_BASE_URL", f"http://alice:{URL_KEY}@{host}")
    monkeypatch.setenv("LIMNER_LLM_MODEL", "scripted-model")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("LIMNER_LLM_MAX_RETRIES", "0")
    plan = json.dumps({"rewritten_prompt": "a red circle", "objects": [{"name": "circle", "color": "red"}]})
    judgement = json.dumps({k: {"score": 6, "reason": "ok"} for k in
                            ["prompt_adherence", "object_correctness", "composition", "quality", "artifacts"]})
    # a plan, one judged candidate, then a failing endpoint: its error lands in the decisions and stop reason
    openai_server.script(Reply(content=plan), Reply(content=judgement), Reply(status=500), Reply(status=401))
    policy = policy_file(tmp_path, planner="llm", max_rounds=2, candidates_per_round=1, threshold=0.99,
                         verifiers=[{"name": "clipscore"}, {"name": "vlm-judge"}])
    out = tmp_path / "runs"
    result = run("a red circle", seed=3, out=out, policy=policy)
    assert result.final_path is not None and len(openai_server.requests) >= 2
    assert openai_server.headers[0]["authorization"] == f"Basic {BASIC}"  # the URL's key was really sent...
    from limner.agent.batch import run_batch

    briefs = tmp_path / "briefs.jsonl"
    briefs.write_text(json.dumps({"prompt": "a blue square", "policy": policy}) + "\n")
    monkeypatch.setenv("LIMNER_LLM_BASE_URL", openai_server.base_url)  # the key as a bearer token now
    openai_server.script(Reply(content=plan), Reply(status=500))
    run_batch(briefs, tmp_path / "batch")
    assert openai_server.headers[-1]["authorization"] == f"Bearer {KEY}"
    found = [(str(p), s) for p in _files(out, tmp_path / "batch", Path(limner_home)) for s in SECRETS
             if s.encode() in p.read_bytes()]
    assert found == []  # ...and written nowhere
    logs = Path(limner_home) / "logs.sqlite"
    assert logs.is_file() and b"127.0.0.1" in logs.read_bytes()  # the call log was written, without the key
