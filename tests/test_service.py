"""``limner serve`` as its clients use it: the official ``openai`` SDK, A1111's txt2img, the job API with Server-Sent
Events and cancel, MCP over HTTP with the official client, bad input, an API key, and SIGKILLs."""

from __future__ import annotations

import base64
import io
import json
import time

import httpx
import pytest
from PIL import Image

from service_server import LiveService, sse

pytestmark = pytest.mark.slow  # a live server running the embedded model


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    live = LiveService(root / "runs", root / "home").start()
    yield live
    live.stop()
    assert live.tracebacks() == 0, live.log.read_text()[-3000:]


def png(b64: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(b64)))


def test_the_openai_sdk_gets_an_image_with_limner_s_verdict_beside_it(server):
    from openai import OpenAI

    client = OpenAI(base_url=f"{server.base}/v1", api_key="not-needed-on-loopback")
    r = client.images.generate(model="limner", prompt="two red circles and a blue square", n=1, size="64x64",
                               response_format="b64_json")
    assert len(r.data) == 1 and png(r.data[0].b64_json).size == (64, 64)
    verdict = r.model_extra["limner"]
    assert verdict["status"] == "passed" and verdict["checks"]["failed"] == [] and verdict["checks"]["of"] >= 3
    # the image answered is the run's best candidate, byte for byte
    run = server.client().get(f"/v1/runs/{verdict['run_id']}").json()
    best = run["best"]
    assert best["id"] == verdict["candidates"][0]
    assert base64.b64decode(r.data[0].b64_json) == server.client().get(
        f"/v1/runs/{verdict['run_id']}/files/{best['path']}").content
    # n images, as URLs this server serves
    r = client.images.generate(prompt="a green triangle", n=2, response_format="url")
    assert len(r.data) == 2 and len({d.url for d in r.data}) == 2
    assert all(png(base64.b64encode(httpx.get(d.url).content).decode()).size == (64, 64) for d in r.data)
    assert [m.id for m in client.models.list()][:2] == ["limner", "shapes-tiny"]


def test_an_edit_with_a_transparent_mask_changes_only_what_the_mask_opens(server):
    from openai import OpenAI

    source = Image.new("RGB", (64, 64), (240, 240, 240))
    for x in range(40, 60):
        for y in range(40, 60):
            source.putpixel((x, y), (20, 20, 200))  # a blue square the edit must keep
    mask = Image.new("RGBA", (64, 64), (0, 0, 0, 255))
    for x in range(4, 32):
        for y in range(4, 32):
            mask.putpixel((x, y), (0, 0, 0, 0))  # transparent: the area to edit
    buf, mbuf = io.BytesIO(), io.BytesIO()
    source.save(buf, "PNG")
    mask.save(mbuf, "PNG")
    client = OpenAI(base_url=f"{server.base}/v1", api_key="x")
    r = client.images.edit(image=("in.png", buf.getvalue(), "image/png"),
                           mask=("mask.png", mbuf.getvalue(), "image/png"), prompt="a red circle")
    out = png(r.data[0].b64_json).convert("RGB")
    assert out.size == (64, 64) and r.model_extra["limner"]["run_id"]
    far = [(x, y) for x in range(44, 64) for y in range(44, 64)]  # well outside the (feathered) mask
    assert sum(abs(a - b) for p in far for a, b in zip(out.getpixel(p), source.getpixel(p))) / len(far) < 6
    inside = [(x, y) for x in range(8, 28) for y in range(8, 28)]
    assert sum(abs(a - b) for p in inside for a, b in zip(out.getpixel(p), source.getpixel(p))) / len(inside) > 20
    job = httpx.get(f"{server.base}/v1/runs/{r.model_extra['limner']['run_id']}").json()
    for c in job["candidates"]:  # every candidate is verified outside the mask too (issue 35)
        (kept,) = c["scores"]["preservation"]["detail"]["questions"]
        assert kept["kind"] == "preserved" and kept["passed"] is True


def test_a1111_txt2img_answers_batch_size_images(server):
    r = server.client().post("/sdapi/v1/txt2img", json={
        "prompt": "a blue square", "negative_prompt": "", "steps": 10, "cfg_scale": 4.0, "width": 64,
        "height": 64, "seed": 5, "batch_size": 2, "sampler_name": "Euler a"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["images"]) == 2 and all(png(i).size == (64, 64) for i in body["images"])
    assert json.loads(body["info"])["status"] in ("passed", "best_effort")
    assert server.client().get("/sdapi/v1/sd-models").json()[0]["title"]


def test_a_job_streams_its_events_resumes_from_last_event_id_and_shows_its_checks(server):
    c = server.client()
    r = c.post("/v1/runs", json={"prompt": "a red circle left of a blue square", "seed": 3})
    assert r.status_code == 202
    jid = r.json()["id"]
    events = sse(c, f"/v1/runs/{jid}/events")
    kinds = [e["event"] for e in events]
    for kind in ("queued", "started", "plan", "step", "candidate", "decision", "ended"):
        assert kind in kinds, kinds
    assert kinds[-1] == "ended" and kinds.count("ended") == 1
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    later = sse(c, f"/v1/runs/{jid}/events", headers={"Last-Event-ID": str(events[4]["id"])})
    assert [e["id"] for e in later] == [e["id"] for e in events[5:]]
    view = c.get(f"/v1/runs/{jid}").json()
    assert view["status"] == events[-1]["data"]["status"] and view["plan"]["objects"]
    cand = next(x for x in view["candidates"] if x["id"] == view["best"]["id"])
    questions = cand["scores"]["questions"]["detail"]["questions"]
    assert questions and all("passed" in q for q in questions)
    assert c.get(cand["url"]).content[:4] == b"\x89PNG"
    page = c.get("/v1/runs", params={"limit": 1}).json()
    assert len(page["data"]) == 1 and page["next_cursor"]


def test_cancel_stops_a_running_job_at_a_denoising_step_and_a_queued_one_before_it_starts(server):
    c = server.client()
    running = c.post("/v1/runs", json={"prompt": "a red circle", "budgets": {"threshold": 1.0, "max_rounds": 8},
                                       "seed": 1}).json()["id"]
    queued = c.post("/v1/runs", json={"prompt": "a blue square"}).json()["id"]
    asked = {}

    def on_event(e):
        if e["event"] == "step" and e["data"].get("round") == 2 and "at" not in asked:
            asked["at"] = time.perf_counter()
            assert c.post(f"/v1/runs/{queued}/cancel").json()["status"] == "cancelled"
            c.post(f"/v1/runs/{running}/cancel")
        if e["event"] == "ended":
            asked["ended"] = time.perf_counter()

    events = sse(c, f"/v1/runs/{running}/events", on_event=on_event)
    assert events[-1]["data"]["status"] == "cancelled"
    assert asked["ended"] - asked["at"] < 5.0  # generous on a loaded CI machine; the bench measures it
    cancelled = next(e for e in events if e["event"] == "cancelled")
    assert "denoising step" in cancelled["data"]["reason"]
    view = c.get(f"/v1/runs/{running}").json()
    assert view["status"] == "cancelled" and view["candidates"] and "final" in view["files"]
    kinds = [e["event"] for e in sse(c, f"/v1/runs/{queued}/events")]
    assert kinds == ["queued", "ended"] and c.get(f"/v1/runs/{queued}").json()["status"] == "cancelled"


def test_a_chat_takes_messages_until_it_is_accepted(server):
    c = server.client()
    jid = c.post("/v1/runs", json={"prompt": "a red circle", "interactive": True, "seed": 2}).json()["id"]

    def rest():
        for _ in range(600):
            view = c.get(f"/v1/runs/{jid}").json()
            if view["status"] not in ("queued", "running"):
                return view
            time.sleep(0.05)
        raise AssertionError("the run never rested")

    view = rest()
    assert view["status"] == "waiting" and view["question"]["kind"] == "plan"
    assert c.post(f"/v1/runs/{jid}/messages", json={"text": "yes"}).status_code == 202
    view = rest()
    assert view["status"] == "waiting" and view["question"]["kind"] == "round"
    c.post(f"/v1/runs/{jid}/messages", json={"text": "accept"})
    view = rest()
    assert view["status"] in ("passed", "best_effort") and view["files"]["final"]
    r = c.post(f"/v1/runs/{jid}/messages", json={"text": "more"})
    assert r.status_code == 409 and "not waiting" in r.json()["error"]["message"]


def test_a_chat_takes_the_boxes_a_person_moved_and_a_brush_mask(server):
    """What the studio sends, through the public job API: the plan's boxes as moved (one deleted: its object
    leaves the plan), then a mask painted on a candidate with "make it green" (the edit paints only there)."""
    c = server.client()
    jid = c.post("/v1/runs", json={"prompt": "a red circle left of a blue square and a yellow triangle",
                                   "interactive": True, "seed": 2, "policy": "chat",
                                   "budgets": {"candidates": 2}}).json()["id"]

    def rest():  # an edit is retried up to twice (chat policy): give a loaded machine time
        for _ in range(3600):
            view = c.get(f"/v1/runs/{jid}").json()
            if view["status"] not in ("queued", "running") and view["question"] is not None:
                return view
            time.sleep(0.05)
        raise AssertionError("the run never rested")

    plan = rest()["question"]["plan"]
    assert len(plan["objects"]) == 3
    boxes = [{"object": 0, "box": [0.05, 0.05, 0.4, 0.4]}, {"object": 1, "box": [0.55, 0.5, 0.95, 0.9]}]
    bad = c.post(f"/v1/runs/{jid}/messages", json={"text": "yes", "layout": [{"object": 0, "box": [1, 2]}]})
    assert bad.status_code == 400 and "box" in bad.json()["error"]["message"]
    assert c.post(f"/v1/runs/{jid}/messages", json={"text": "yes", "layout": boxes}).status_code == 202
    view = rest()
    assert view["question"]["kind"] == "round" and [o["name"] for o in view["plan"]["objects"]] == ["circle", "square"]
    assert [r["box"] for r in view["plan"]["layout"]["regions"]] == [b["box"] for b in boxes]
    head = view["question"]["best_id"]
    mask = Image.new("L", (64, 64), 0)
    for x in range(2, 28):
        for y in range(2, 28):
            mask.putpixel((x, y), 255)
    buf = io.BytesIO()
    mask.save(buf, "PNG")
    data = base64.b64encode(buf.getvalue()).decode()
    small = io.BytesIO()
    mask.resize((32, 32)).save(small, "PNG")
    for body, why in (({"text": "x", "mask": base64.b64encode(small.getvalue()).decode()}, "must match"),
                      ({"text": "x", "candidate": "r09-c09"}, "no candidate"), ({"text": "x", "mask": "@@"}, "base64")):
        r = c.post(f"/v1/runs/{jid}/messages", json=body)
        assert r.status_code == 400 and why in r.json()["error"]["message"], r.json()
    assert c.post(f"/v1/runs/{jid}/messages", json={"text": "make it green", "mask": data, "candidate": head}
                  ).status_code == 202
    view = rest()
    turn = view["question"]["history"][-1]
    assert (turn["kind"], turn["from"]) == ("recolor", head) and turn["made"]
    made = [x for x in view["candidates"] if x["id"] in turn["made"]]
    assert all(x["edit"]["within"] == "masks/turn-1.png" and x["scores"]["preservation"]["score"] == 1.0
               for x in made)
    c.post(f"/v1/runs/{jid}/cancel")


BAD = [
    ("post", "/v1/images/generations", {"json": {"prompt": ""}}, 400, "prompt"),
    ("post", "/v1/images/generations", {"json": {"prompt": "x", "n": 50}}, 400, "n 50"),
    ("post", "/v1/images/generations", {"json": {"prompt": "x", "n": "two"}}, 400, "n"),
    ("post", "/v1/images/generations", {"json": {"prompt": "x", "size": "99992x64"}}, 400, "larger"),
    ("post", "/v1/images/generations", {"json": {"prompt": "x", "size": "big"}}, 400, "WIDTHxHEIGHT"),
    ("post", "/v1/images/generations", {"json": {"prompt": "x", "model": "../../etc"}}, 404, "not served"),
    ("post", "/v1/images/generations", {"content": b"{not json", "headers": {"content-type": "application/json"}},
     400, "JSON"),
    ("post", "/v1/images/edits", {"files": {"image": ("a.png", b"not an image", "image/png")},
                                  "data": {"prompt": "x"}}, 400, "not a readable image"),
    ("post", "/v1/images/edits", {"data": {"prompt": "x"}}, 400, "image"),
    ("post", "/v1/runs", {"json": {"prompt": "a cat", "policy": "/etc/passwd"}}, 400, "policy"),
    ("post", "/v1/runs", {"json": {"prompt": "a cat", "budgets": {"max_rounds": 10000}}}, 400, "allows"),
    ("post", "/v1/runs", {"json": {"prompt": "a cat", "unknown": 1}}, 400, "unknown"),
    ("post", "/v1/runs", {"json": {"prompt": "a red circle left of a blue square and the blue square left of "
                                             "the red circle"}}, 400, ""),
    ("post", "/v1/runs", {"json": {"prompt": "a cat", "mask": "AAAA"}}, 400, "image"),
    ("get", "/v1/runs/nope", {}, 404, "no run"),
    ("get", "/v1/runs/..%2F..%2Fetc", {}, 404, ""),
    ("post", "/v1/runs/nope/cancel", {}, 404, "no run"),
    ("post", "/sdapi/v1/txt2img", {"json": {"prompt": "x", "width": 65}}, 400, "multiple of 8"),
    ("post", "/sdapi/v1/txt2img", {"json": {"prompt": "x", "batch_size": 100}}, 400, "at most"),
]


@pytest.mark.parametrize("method,path,kw,status,says", BAD, ids=[f"{b[1]}-{i}" for i, b in enumerate(BAD)])
def test_bad_input_is_a_4xx_in_openai_s_error_shape(server, method, path, kw, status, says):
    r = getattr(server.client(), method)(path, **kw)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and says.lower() in error["message"].lower()
    assert "Traceback" not in r.text
    assert server.client().get("/health").json()["worker"] == "alive"


def test_oversized_bodies_bombs_and_paths_out_of_a_run_are_refused(server, tmp_path):
    c = server.client()
    huge = c.post("/v1/images/generations", content=b"x" * (26 * 2**20), headers={"content-type": "application/json"})
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "body_too_large"
    bomb = io.BytesIO()
    Image.new("1", (20000, 20000)).save(bomb, "PNG")  # 50 kB on the wire, 400 megapixels decoded
    r = c.post("/v1/images/edits", files={"image": ("b.png", bomb.getvalue(), "image/png")}, data={"prompt": "x"})
    assert r.status_code == 400 and "pixels" in r.json()["error"]["message"]
    jid = c.post("/v1/runs", json={"prompt": "a red circle"}).json()["id"]
    sse(c, f"/v1/runs/{jid}/events")
    for path in ("../../etc/passwd", "%2e%2e/%2e%2e/etc/passwd", "checkpoint.sqlite", "nothing.png"):
        assert c.get(f"/v1/runs/{jid}/files/{path}").status_code == 404
    assert c.get(f"/v1/runs/{jid}/files/final.png").status_code == 200
    spec = c.get("/openapi.json").json()
    for path in ("/v1/images/generations", "/v1/images/edits", "/v1/models", "/v1/runs", "/v1/runs/{run_id}/events",
                 "/v1/runs/{run_id}/cancel", "/v1/runs/{run_id}/messages", "/sdapi/v1/txt2img"):
        assert path in spec["paths"], path


def test_mcp_over_http_runs_the_same_tools_with_progress(server):
    import anyio
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async def go():
        async with streamable_http_client(f"{server.base}/mcp") as streams:
            async with ClientSession(streams[0], streams[1]) as session:
                await session.initialize()
                names = {t.name for t in (await session.list_tools()).tools}
                assert {"generate", "edit", "verify", "answer", "resume", "manifest"} <= names
                progress = []

                async def on_progress(p, total, message):
                    progress.append(message)

                r = await session.call_tool("generate", {"prompt": "a blue square", "seed": 4},
                                            progress_callback=on_progress)
                data = json.loads(r.content[0].text)
                assert not r.is_error and data["status"] in ("passed", "best_effort")
                assert any(m.startswith("round 1: step") for m in progress)
                r = await session.call_tool("edit", {"image": "/etc/hostname", "instruction": "x"})
                assert r.is_error and "outside the folders" in r.content[0].text
                return data["run_id"]

    run_id = anyio.run(go)
    assert (server.out / run_id / "final.png").is_file()  # MCP's runs land in the server's runs folder


def test_anything_but_loopback_needs_a_key_and_a_key_guards_every_route_but_health(tmp_path):
    from typer.testing import CliRunner

    from limner.agent.cli import app

    out = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--out", str(tmp_path / "r")])
    assert out.exit_code == 2 and "without an API key" in out.output and not (tmp_path / "r").exists()
    live = LiveService(tmp_path / "runs", tmp_path / "home", "--api-key", "s3cret").start()
    try:
        c = live.client()
        assert c.get("/health").status_code == 200
        for path in ("/v1/models", "/openapi.json", "/v1/runs", "/sdapi/v1/sd-models"):
            r = c.get(path)
            assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error", path
        assert c.get("/v1/models", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/v1/models", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    finally:
        live.stop()
    assert "s3cret" not in "".join(p.read_text(errors="replace") for p in (tmp_path / "runs").rglob("*")
                                  if p.is_file() and p.suffix in (".json", ".jsonl"))


def test_sigkill_mid_job_then_restart_ends_every_job_exactly_once(tmp_path):
    """Jobs queued and running when the server is killed end once each after restarts: no job lost, none
    answered twice, no candidate announced twice, no run folder split."""
    live = LiveService(tmp_path / "runs", tmp_path / "home")
    live.start()
    c = live.client()
    ids = [c.post("/v1/runs", json={"prompt": p, "seed": i, "budgets": {"max_rounds": 2, "threshold": 1.0}}).json()["id"]
           for i, p in enumerate(["a red circle", "a blue square", "two green triangles"])]
    for kill in range(3):  # kill while a job is mid-round
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            events = live.client().get(f"/v1/runs/{ids[min(kill, 2)]}").json()
            if events["status"] == "running" and events["candidates"] or events["status"] in (
                    "passed", "best_effort", "failed", "cancelled", "unverified"):
                break
            time.sleep(0.05)
        live.kill()
        live.start()
    requeued = 0
    for jid in ids:
        events = sse(live.client(), f"/v1/runs/{jid}/events")
        requeued += any(e["event"] == "requeued" for e in events)
        kinds = [e["event"] for e in events]
        assert kinds.count("ended") == 1 and kinds[-1] == "ended", kinds
        cands = [e["data"]["id_"] for e in events if e["event"] == "candidate"]
        assert len(cands) == len(set(cands))
        view = live.client().get(f"/v1/runs/{jid}").json()
        assert view["status"] == events[-1]["data"]["status"]
        assert len({c["id"] for c in view["candidates"]}) == len(view["candidates"])
    assert requeued >= 1  # some kill landed while a job ran
    assert sorted(p.name for p in (tmp_path / "runs").iterdir() if not p.name.startswith(".")) == sorted(ids)
    live.stop()


def test_a_client_that_goes_away_mid_stream_does_not_stop_its_job(server):
    c = server.client()
    jid = c.post("/v1/runs", json={"prompt": "a red circle", "seed": 9}).json()["id"]
    with c.stream("GET", f"/v1/runs/{jid}/events") as r:
        for line in r.iter_lines():
            if line.startswith("event: step"):
                break  # leave mid-stream
    events = sse(server.client(), f"/v1/runs/{jid}/events")
    assert events[-1]["data"]["status"] in ("passed", "best_effort")
    assert server.client().get("/health").json() == {"status": "ok", "worker": "alive", "running": None}
