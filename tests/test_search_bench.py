"""``limner bench search``: runs the strategies on ShapesEval and writes the JSON and the plot."""

from __future__ import annotations

import json

import pytest
from PIL import Image
from typer.testing import CliRunner

from limner.agent.cli import app

pytestmark = pytest.mark.slow  # end to end: diffusion, subprocesses or servers


runner = CliRunner()


def test_search_bench_writes_json_and_plot(tmp_path, shapes_defaults):
    out, plot = tmp_path / "s.json", tmp_path / "s.png"
    r = runner.invoke(app, ["bench", "search", "--per-tag", "1", "--prompts", "2", "--budgets", "1,2", "-s", "random", "-s", "zero_order",
                            "-v", "oracle", "--samples-per-round", "2", "--results", str(out), "--plot", str(plot)])
    assert r.exit_code == 0, r.output
    data = json.loads(out.read_text())
    assert data["prompts"] == 2 and data["budgets"] == [1, 2]
    assert len(data["rows"]) == 2 * 2 * 2
    for row in data["rows"]:
        assert row["nfe_charged"] <= row["nfe_budget"]
    cells = {(s["strategy"], s["budget"]) for s in data["summary"]}
    assert cells == {("random", 1), ("random", 2), ("zero_order", 1), ("zero_order", 2)}
    # at 1x every strategy is the same single plain sample
    one = {(r["prompt"], r["correct"]) for r in data["rows"] if r["budget"] == 1 and r["strategy"] == "random"}
    assert one == {(r["prompt"], r["correct"]) for r in data["rows"] if r["budget"] == 1 and r["strategy"] == "zero_order"}
    assert "random" in r.output and "best at oracle@2x" in r.output
    with Image.open(plot) as im:
        assert im.size[0] > 400


@pytest.mark.parametrize("args, expected", [
    (["--budgets", "0,4"], "--budgets takes positive whole numbers"),
    (["--budgets", "a"], "--budgets takes comma-separated whole numbers"),
    (["-s", "annealing"], "unknown strategy 'annealing'"),
    (["-v", "pickscore"], "unknown verifier 'pickscore' for this benchmark"),
])
def test_search_bench_bad_input(tmp_path, args, expected):
    r = runner.invoke(app, ["bench", "search", "--results", str(tmp_path / "x.json"), *args])
    assert r.exit_code == 2
    assert expected in r.output and len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "x.json").exists()
