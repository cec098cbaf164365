"""``limner verify``: any image, any verifiers, per-question answers; bad input is one line."""

import json
import os
import subprocess
import sys

import pytest

from limner.tools.shapes.world import Obj, Scene, render_pil


pytestmark = pytest.mark.slow  # end to end: diffusion, subprocesses or servers


@pytest.fixture
def shape_png(tmp_path):
    path = tmp_path / "shape.png"
    render_pil(Scene([Obj("circle", "red", 2, 20, 14), Obj("square", "blue", 40, 20, 14)])).save(path)
    return path


def limner(*args):
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "limner.agent.cli", *args], capture_output=True, text=True, timeout=120,
                          env=env)


def test_verify_prints_scores_and_questions(shape_png):
    done = limner("verify", str(shape_png), "a red circle right of a blue square", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    questions = result["verifiers"]["questions"]
    assert questions["detail"]["failed"] == ["r0"] and questions["score"] == pytest.approx(0.8)
    assert 0.0 <= result["verifiers"]["clipscore"]["score"] <= 1.0
    table = limner("verify", str(shape_png), "a red circle left of a blue square")
    assert table.returncode == 0 and "Is the red circle left of the blue square?" in table.stdout


@pytest.mark.parametrize("args, expected", [
    (["/nonexistent.png", "a circle"], "image /nonexistent.png does not exist"),
    (["{img}", "a circle", "-v", "nope"], "unknown verifier 'nope'"),
    (["{img}", "a circle", "-v", "pickscore"], "HF_HUB_OFFLINE=1"),
    (["{img}", "a circle", "-v", "vlm-judge"], "needs an LLM endpoint"),
])
def test_verify_bad_input(shape_png, args, expected):
    done = limner("verify", *[a.replace("{img}", str(shape_png)) for a in args])
    assert done.returncode == 2 and expected in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
