"""The command line: bad input gives one line and exit code 2, with nothing written; --help stays light."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from limner.agent.cli import app
from helpers import policy_file

pytestmark = pytest.mark.slow  # end to end: diffusion, subprocesses or servers


runner = CliRunner()


def limner(*args, env=None):
    """Run the real ``limner`` entry point in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "limner.agent.cli", *args], capture_output=True, text=True, env=full_env,
                          timeout=300)


def one_line_error(result) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


@pytest.mark.parametrize(
    "args, expected",
    [
        (["run", "a circle", "--model", "no-such-model"], "unknown model 'no-such-model'"),
        (["run", "a circle", "--policy", "missing.yaml"], "no policy 'missing.yaml'"),
        (["run", "a circle", "--threshold", "1.5"], "threshold must be in [0, 1]"),
        (["run", "   "], "the prompt is empty"),
        (["run", "a circle", "--out", "/proc/limner-cannot-write"], "is not writable"),
        (["run", "a circle", "--policy", "llm-judge"], "no LLM endpoint is configured"),
        (["run", "a circle", "--max-rounds", "0"], "max_rounds"),
        (["run", "a circle", "--model", "someorg/not-cached"], "not in the local Hugging Face cache"),
        (["run", "a circle", "--dtype", "float8"], "unknown dtype 'float8'"),
        (["run", "a circle", "--device", "tpu"], "unknown device 'tpu'"),
        (["run", "a circle", "--device", "cuda:x"], "unknown device 'cuda:x'"),
        (["resume", "no-such-run"], "no run 'no-such-run'"),
        (["show", "no-such-run"], "no run 'no-such-run'"),
        (["batch", "no-such-briefs.jsonl"], "brief file no-such-briefs.jsonl does not exist"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, expected):
    out = tmp_path / "runs"
    if "--out" not in args:
        args = args + ["--out", str(out)] if args[0] in ("run", "batch") else args
    result = limner(*args)
    assert expected in one_line_error(result)
    assert not out.exists()  # nothing half-written, not even an empty folder


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a CUDA GPU")
def test_a_device_this_machine_lacks_is_one_line_before_anything_is_written(tmp_path):
    out = tmp_path / "runs"
    assert "is not available here" in one_line_error(limner("run", "a circle", "--device", "cuda", "--out", str(out)))
    assert not out.exists()


@pytest.mark.parametrize(
    "content, expected",
    [
        ("threshold: [unclosed", "not valid YAML"),
        ("- a list", "must be a YAML mapping"),
        ("threshold: 3", "threshold: Input should be less than or equal to 1"),
        ("verifiers: [{name: nope}]", "unknown verifier 'nope'"),
        ("surprise: 1", "surprise: Extra inputs are not permitted"),
    ],
)
def test_bad_policy_files(tmp_path, content, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    result = runner.invoke(app, ["run", "a circle", "--policy", str(path), "--out", str(tmp_path / "runs")])
    assert result.exit_code == 2
    assert expected in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_unreadable_policy_file(tmp_path):
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"\xff\xfe\x00bad")
    result = runner.invoke(app, ["run", "a circle", "--policy", str(path), "--out", str(tmp_path / "runs")])
    assert result.exit_code == 2 and "cannot read policy file" in result.output


def test_help_does_not_import_torch():
    code = ("import sys\nfrom typer.testing import CliRunner\nfrom limner.agent.cli import app\n"
            "r = CliRunner().invoke(app, ['--help'])\nassert r.exit_code == 0, r.output\n"
            "heavy = [m for m in ('torch', 'diffusers', 'transformers', 'langgraph') if m in sys.modules]\n"
            "print(','.join(heavy))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_models_and_policies_list():
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0 and "sdxl-turbo" in result.output and "flux-schnell" in result.output
    result = runner.invoke(app, ["policies"])
    assert result.exit_code == 0 and "default" in result.output


def test_run_then_show(tmp_path, shapes_defaults):
    out = tmp_path / "runs"
    result = limner("run", "two red circles and a blue square", "--seed", "1", "--out", str(out),
                    "--policy", policy_file(tmp_path, max_rounds=1), "--json", "--model", "tiny-random-sd")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert Path(data["final_path"]).is_file() and data["status"] in {"passed", "best_effort"}
    assert "random weights" in result.stderr  # the stand-in model says so plainly
    assert "knows only the shapes world" in result.stderr  # and so does the verifier that does not fit it
    shown = limner("show", data["run_id"])
    assert shown.returncode == 0 and "plan v1 by rules" in shown.stdout and "r01-c00" in shown.stdout
    assert "round budget spent" in shown.stdout


def test_default_policy_skips_questions_it_cannot_answer(tmp_path):
    """Outside the shapes world and without a VLM, nothing can answer the plan's questions: say so, skip them."""
    out = tmp_path / "runs"
    result = limner("run", "a red circle", "--seed", "1", "--out", str(out), "--max-rounds", "1", "-n", "1", "--json")
    assert result.returncode == 0, result.stderr
    assert "questions verifier is skipped" in result.stderr
    manifest = json.loads(Path(json.loads(result.stdout)["manifest_path"]).read_text())
    assert [v["name"] for v in manifest["verifiers"]] == ["clipscore"]


def test_version_short_help_and_plurals():
    from limner.agent.cli import plural

    done = runner.invoke(app, ["--version"])
    assert done.exit_code == 0 and done.output.startswith("limner ")
    assert runner.invoke(app, ["run", "-h"]).exit_code == 0 and "--steps" in runner.invoke(app, ["run", "-h"]).output
    assert plural(1, "round") == "1 round" and plural(2, "round") == "2 rounds" and plural(0, "LLM call") == "0 LLM calls"


def test_bench_shapes_on_a_folder_written_from_plain_briefs_says_it_cannot_score_it(tmp_path):
    """A batch from a YAML or JSONL brief file writes GenEval's layout without GenEval's tag/include."""
    from PIL import Image

    sub = tmp_path / "geneval" / "00000"
    (sub / "samples").mkdir(parents=True)
    (sub / "metadata.jsonl").write_text(json.dumps({"prompt": "a red circle"}) + "\n")
    Image.new("RGB", (64, 64)).save(sub / "samples" / "0000.png")
    result = limner("bench", "shapes", "--images", str(tmp_path / "geneval"), "--results", str(tmp_path / "r.json"))
    assert "without GenEval's tag and include (e.g. 'a red circle')" in one_line_error(result)
    assert not (tmp_path / "r.json").exists()
