"""Defects the reliability bench's generated inputs found, each kept as a regression test: text a person or an
LLM wrote is shown as written (never read as terminal markup), odd names and files are one line and exit 2."""

import json

import pytest
from typer.testing import CliRunner

from helpers import policy_file
from limner.agent.cli import app

runner = CliRunner()


def one_line(result) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.exit_code == 2 and result.exception is None or isinstance(result.exception, SystemExit), result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.mark.slow
def test_a_prompt_with_terminal_markup_is_shown_as_written(tmp_path):
    """'[/]' in a prompt was read by rich as a closing tag: a MarkupError traceback mid-run."""
    prompt = "a [/] circle [bold red]in a box[/bold red]"
    policy = policy_file(tmp_path, max_rounds=1, candidates_per_round=1, generation={"steps": 2})
    done = runner.invoke(app, ["run", prompt, "--out", str(tmp_path / "runs"), "--policy", policy])
    assert done.exit_code in (0, 1) and done.exception is None or isinstance(done.exception, SystemExit), done.output
    assert f"by rules: {prompt}" in done.stderr.replace("\n", " ")
    [run_dir] = (tmp_path / "runs").iterdir()
    shown = runner.invoke(app, ["show", str(run_dir)], env={"COLUMNS": "200"})
    assert shown.exit_code == 0 and f"prompt: {prompt}" in shown.stdout


def test_a_layout_with_a_very_long_phrase_is_drawn(tmp_path):
    """PIL refuses to draw a very long string: a 1 MB prompt ended the run in ``finish``."""
    from PIL import Image

    from limner.agent._run.manifest import write_layout_overlay
    from limner.agent._run.store import RunStore

    store = RunStore(tmp_path)
    (tmp_path / "candidates").mkdir()
    Image.new("RGB", (64, 64)).save(tmp_path / "candidates" / "r01-c00.png")
    layout = {"regions": [{"phrase": "x" * 1_000_001, "box": [0.1, 0.1, 0.9, 0.9]}]}  # PIL draws at most 1,000,000
    assert write_layout_overlay(store, {"id": "r01-c00", "path": "candidates/r01-c00.png"}, {"layout": layout}) \
        == "layout.png"
    assert (tmp_path / "layout.png").is_file()


@pytest.mark.parametrize("run_id", ["x" * 300, "\u202e" + "x" * 300, "a\x00b"])
def test_an_impossible_run_id_is_one_line(run_id):
    """A name too long for the file system was an OSError traceback in show and resume."""
    for command in ("show", "resume"):
        assert "no run" in one_line(runner.invoke(app, [command, run_id]))


def test_mcp_lookups_refuse_overlong_run_ids(tmp_path):
    from limner.agent._run.store import find_run
    from limner.agent.errors import UsageError

    with pytest.raises(UsageError, match="not a run id"):
        find_run("x" * 300, within=tmp_path)


@pytest.mark.parametrize("metadata, sample, expected", [
    ("3.5", "good", "holds a float, not GenEval's JSON object"),
    ("", "good", "is not one JSON object per line"),
    ('{"prompt": "a circle", "tag": "counting", "include": [{"class": "circle", "count": "two"}]}', "good",
     "count must be a whole number"),
    ('{"prompt": "a circle", "tag": "position", "include": [{"class": "circle", "count": 1, "position": ["left of", 3]}]}',
     "good", "position must be [relation, index of an earlier include]"),
    ('{"prompt": "a circle", "tag": "counting", "include": [{"class": "circle", "count": 1}]}', "truncated",
     "cannot read sample"),
])
def test_a_bad_geneval_folder_is_one_line(tmp_path, metadata, sample, expected):
    """Metadata that was not an object, or a sample that was not an image, ended in a TypeError traceback."""
    import io

    from PIL import Image

    folder = tmp_path / "geneval" / "00000"
    (folder / "samples").mkdir(parents=True)
    (folder / "metadata.jsonl").write_text(metadata + "\n")
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(buf, format="PNG")
    (folder / "samples" / "0000.png").write_bytes(buf.getvalue()[: 40 if sample == "truncated" else None])
    line = one_line(runner.invoke(app, ["bench", "shapes", "--images", str(tmp_path / "geneval"),
                                        "--results", str(tmp_path / "r.json")]))
    assert expected in line and not (tmp_path / "r.json").exists()


def test_a_brief_file_that_is_not_utf8_is_one_line(tmp_path):
    briefs = tmp_path / "briefs.jsonl"
    briefs.write_bytes(b'{"prompt": "a red circle"}\n\xff\xfe\x00garbage\n')
    assert "is not UTF-8 text" in one_line(runner.invoke(app, ["batch", str(briefs), "--out", str(tmp_path / "out")]))
    assert not (tmp_path / "out").exists()


def test_a_bad_batch_option_shows_no_progress_bar(tmp_path):
    """The bar started before the options were checked: '--samples 0' printed a bar, then the error."""
    briefs = tmp_path / "briefs.jsonl"
    briefs.write_text(json.dumps({"prompt": "a red circle"}) + "\n")
    done = runner.invoke(app, ["batch", str(briefs), "--out", str(tmp_path / "out"), "--samples", "0"])
    assert one_line(done) == "error: --samples must be at least 1" and "briefs" not in done.stderr


def test_mcp_input_paths_with_a_nul_byte_are_a_tool_error(tmp_path):
    """``Path.resolve`` raises ValueError on a NUL byte: the tool crashed (the SDK's bare 'Error executing tool')."""
    pytest.importorskip("mcp", reason="the MCP SDK is an extra")
    import anyio
    from mcp import Client

    from limner.agent.integrations.mcp import build_server

    async def call():
        async with Client(build_server(str(tmp_path / "runs"), allow_read=[str(tmp_path)])) as client:
            return await client.call_tool("verify", {"image": "a\x00b.png", "prompt": "a red circle"})

    result = anyio.run(call)
    assert result.is_error and "is not a usable path" in result.content[0].text


@pytest.mark.parametrize("name, expected", [("runs.sqlite", "cannot use the runs index"),
                                            ("logs.sqlite", "the LLM call log")])
def test_a_damaged_home_database_is_one_line_before_anything_is_written(tmp_path, monkeypatch, name, expected):
    """A damaged runs index was a DatabaseError traceback (its PRAGMAs ran outside the error handling), a damaged
    LLM log one in the middle of a run's first LLM call."""
    home = tmp_path / "home"
    home.mkdir()
    (home / name).write_bytes(b"not a database" * 100)
    monkeypatch.setenv("LIMNER_HOME", str(home))
    line = one_line(runner.invoke(app, ["run", "a red circle", "--out", str(tmp_path / "runs")]))
    assert expected in line and str(home / name) in line and "move it aside" in line
    assert not (tmp_path / "runs").exists() and (home / name).read_bytes() == b"not a database" * 100
    if name == "runs.sqlite":
        assert expected in one_line(runner.invoke(app, ["show", "some-run-id"]))
