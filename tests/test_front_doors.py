"""Limner as a tool: the MCP server (in-process and as the real ``limner mcp`` over stdio), LangChain and LangGraph."""

import json
import os
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # end to end: diffusion, subprocesses or servers


mcp = pytest.importorskip("mcp", reason="the MCP SDK is an extra: pip install 'limner[mcp]'")


def _calls(target, *calls: tuple[str, dict]):
    """One client session: the tool names, then each call's result and the progress it received."""
    import anyio
    from mcp import Client

    async def main():
        out = []
        async with Client(target) as client:
            names = sorted(t.name for t in (await client.list_tools()).tools)
            for name, arguments in calls:
                progress = []

                async def on_progress(value, total, message, progress=progress):
                    progress.append((value, message))

                out.append((await client.call_tool(name, arguments, progress_callback=on_progress), progress))
        return names, out

    return anyio.run(main)


def _call(target, name: str, arguments: dict):
    names, [(result, progress)] = _calls(target, (name, arguments))
    return names, result, progress


def test_mcp_in_process_generate_returns_the_image_and_reports_progress(tmp_path, shapes_defaults):
    from limner.agent.integrations.mcp import build_server

    names, result, progress = _call(build_server(str(tmp_path)), "generate",
                                    {"prompt": "a red circle", "seed": 1, "max_rounds": 1})
    assert names == ["answer", "edit", "generate", "manifest", "resume", "verify"]
    assert not result.is_error
    data = json.loads(result.content[0].text)
    assert data == result.structured_content and data["status"] in {"passed", "best_effort"}
    checks = data["checks"]  # how many of the plan's checks the returned image passes
    assert checks["of"] >= 2 and checks["passed"] + len(checks["failed"]) == checks["of"]
    assert (data["status"] == "passed") <= (checks["passed"] == checks["of"])
    image = result.content[1]
    assert image.type == "image" and image.mime_type == "image/png"
    import base64

    assert base64.b64decode(image.data) == Path(data["final_path"]).read_bytes()
    values = [v for v, _ in progress]
    assert values == sorted(values) and len(values) >= 20  # every denoising step, candidate and decision
    assert any("step 1/" in m for _, m in progress) and "scored" in " ".join(m for _, m in progress)


def test_mcp_interactive_run_waits_and_is_answered_then_its_manifest_is_read(tmp_path, shapes_defaults):
    from limner.agent.integrations.mcp import build_server

    server = build_server(str(tmp_path))
    _, waiting, _ = _call(server, "generate", {"prompt": "a red circle", "seed": 1, "interactive": True})
    data = json.loads(waiting.content[0].text)
    assert data["status"] == "waiting" and data["question"]["kind"] == "plan" and len(waiting.content) == 1
    _, round1, _ = _call(server, "answer", {"run_id": data["run_id"], "text": "yes"})
    r1 = json.loads(round1.content[0].text)
    assert r1["question"]["kind"] == "round" and round1.content[1].type == "image"  # the contact sheet
    _, done, _ = _call(server, "answer", {"run_id": data["run_id"], "text": "accept"})
    assert json.loads(done.content[0].text)["status"] in {"passed", "best_effort"}
    _, manifest, _ = _call(server, "manifest", {"run_id": data["run_id"]})
    assert manifest.structured_content["chat"][1]["answer"] == "accept"
    _, bad, _ = _call(server, "answer", {"run_id": data["run_id"], "text": "more"})
    assert bad.is_error and "not waiting" in bad.content[0].text
    # run ids resolve only inside the server's runs folder: no paths, no '..', no other folder's runs
    other = build_server(str(tmp_path / "other-runs"))
    for srv, run_id in [(server, str(tmp_path / data["run_id"])), (server, f"../{tmp_path.name}/{data['run_id']}"),
                        (other, data["run_id"])]:
        for tool, args in [("manifest", {}), ("resume", {}), ("answer", {"text": "accept"})]:
            _, refused, _ = _call(srv, tool, {"run_id": run_id, **args})
            assert refused.is_error and ("not a run id" in refused.content[0].text
                                         or "no run" in refused.content[0].text), (tool, run_id)


def test_limner_mcp_over_stdio_generates_with_progress(tmp_path, shapes_defaults):
    from mcp import StdioServerParameters

    params = StdioServerParameters(command=sys.executable, args=["-m", "limner.agent.cli", "mcp", "--out", str(tmp_path)],
                                   env=dict(os.environ), cwd=str(tmp_path))
    names, [(result, progress), (bad, _)] = _calls(
        params, ("generate", {"prompt": "a blue square", "seed": 2, "max_rounds": 1}),
        ("generate", {"prompt": "a blue square", "model": "no-such-model"}))
    assert "generate" in names and not result.is_error
    data = json.loads(result.content[0].text)
    assert Path(data["final_path"]).is_file() and Path(data["final_path"]).is_absolute()
    assert result.content[1].type == "image" and len(progress) >= 20
    assert bad.is_error and "unknown model 'no-such-model'" in bad.content[0].text


def test_langchain_tool_and_langgraph_subgraph(tmp_path, shapes_defaults):
    from langgraph.graph import END, START, StateGraph
    from typing_extensions import TypedDict

    from limner.agent.integrations.langchain import limner_subgraph, limner_tool

    tool = limner_tool(out=str(tmp_path), max_rounds=1)
    assert tool.name == "limner_generate" and "prompt" in tool.args
    out = tool.invoke({"prompt": "a green triangle", "seed": 3})
    assert out["status"] in {"passed", "best_effort"} and Path(out["final_path"]).is_file()

    class Parent(TypedDict, total=False):
        prompt: str
        seed: int
        limner: dict
        caption: str

    parent = StateGraph(Parent)
    parent.add_node("draw", limner_subgraph(out=str(tmp_path), max_rounds=1))
    parent.add_node("caption", lambda s: {"caption": f"{s['prompt']}: {s['limner']['score']:.2f}"})
    parent.add_edge(START, "draw")
    parent.add_edge("draw", "caption")
    parent.add_edge("caption", END)
    final = parent.compile().invoke({"prompt": "a green triangle", "seed": 3})
    assert final["limner"]["final_path"] != out["final_path"]  # a run of its own
    assert final["limner"]["score"] == out["score"]  # same prompt, seed and settings: the same result
    assert final["caption"].startswith("a green triangle: ")


def test_mcp_verify_scores_an_image_file(tmp_path, shapes_defaults):
    from limner.agent.integrations.mcp import build_server
    from limner.tools.shapes.world import Obj, Scene, render_pil

    path = tmp_path / "circle.png"
    render_pil(Scene([Obj("circle", "red", 20, 20, 20)])).save(path)
    _, result, _ = _call(build_server(str(tmp_path)), "verify", {"image": str(path), "prompt": "a red circle",
                                                                  "verifiers": ["questions"]})
    assert result.structured_content["verifiers"]["questions"]["score"] == 1.0
    _, missing, _ = _call(build_server(str(tmp_path)), "verify", {"image": str(tmp_path / "nope.png"), "prompt": "x"})
    assert missing.is_error and "nope.png" in missing.content[0].text
    # input images are read only from the allowed folders (the runs folder, and the working folder by default)
    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    elsewhere.mkdir()
    outside = elsewhere / "circle.png"
    outside.write_bytes(path.read_bytes())
    (tmp_path / "link.png").symlink_to(outside)
    for image in (outside, tmp_path / "link.png"):
        _, refused, _ = _call(build_server(str(tmp_path)), "verify", {"image": str(image), "prompt": "a red circle"})
        assert refused.is_error and "--allow-read" in refused.content[0].text
        _, edit, _ = _call(build_server(str(tmp_path)), "edit", {"image": str(image), "instruction": "a red circle",
                                                                  "box": [0.1, 0.1, 0.5, 0.5]})
        assert edit.is_error and "--allow-read" in edit.content[0].text
    _, allowed, _ = _call(build_server(str(tmp_path), allow_read=[str(elsewhere)]), "verify",
                          {"image": str(outside), "prompt": "a red circle", "verifiers": ["questions"]})
    assert not allowed.is_error
