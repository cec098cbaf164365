"""The restyle's structure check (``limner.tools.verifiers.structure``): outlines kept, nothing new; its
calibration bench's sets and rule; and which candidates get it."""

from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from limner.bench import structure as bench
from limner.tools.shapes.world import Obj, Scene, render_pil
from limner.tools.verifiers.structure import MAX_UNMATCHED, as_score, structure

SCENE = Scene([Obj("circle", "red", 6, 20, 20), Obj("square", "blue", 36, 22, 18)])


def test_a_new_look_keeps_the_outlines_and_passes():
    source = render_pil(SCENE)
    for look in ("palette", "grey", "contrast", "blur", "shift", "sketch"):
        result = structure(source, bench.restyled(source, look, np.random.default_rng(0)))
        assert result.passed and result.worst_window <= MAX_UNMATCHED, look


@pytest.mark.parametrize("changed", [
    Scene([*SCENE.objects, Obj("triangle", "green", 24, 48, 12)]),  # an object added
    Scene([SCENE.objects[0]]),  # one removed
    Scene([SCENE.objects[0], Obj("square", "blue", 36, 0, 18)]),  # one moved
], ids=["added", "removed", "moved"])
def test_a_changed_composition_fails_and_points_at_where(changed):
    result = structure(render_pil(SCENE), bench.restyled(render_pil(changed), "palette", np.random.default_rng(0)))
    assert not result.passed and result.worst_window > MAX_UNMATCHED
    record = as_score(result)["detail"]["questions"][0]
    assert record["kind"] == "structure" and record["counted"] == 0.0 and record["box"] == result.worst_box
    x0, y0, x1, y1 = (v * 64 for v in result.worst_box)
    new = {o.footprint for o in changed.objects} ^ {o.footprint for o in SCENE.objects}
    assert any(x0 < b[2] and b[0] < x1 and y0 < b[3] and b[1] < y1 for b in new)  # the window meets the change


def test_an_image_of_another_size_is_compared_at_the_source_size_and_a_blank_pair_passes():
    source = render_pil(SCENE)
    assert structure(source, source.resize((128, 128), Image.NEAREST)).passed
    blank = Image.new("RGB", (64, 64), "white")
    result = structure(blank, blank)
    assert result.passed and result.worst_window == 0.0 and result.worst_box is None
    assert not structure(blank, source).passed


def test_the_bench_sets_hold_kept_and_broken_pairs_and_the_rule_takes_the_worst_kept_shapes_pair():
    pairs = bench.shapes_pairs(range(3))
    assert {p["kind"] for p in pairs if p["expect"]} == set(bench.KEPT)
    assert {p["kind"].split("+")[0] for p in pairs if not p["expect"]} <= set(bench.BROKEN_SHAPES)
    m = bench.measure(pairs, threshold=0.5)
    assert m["pairs"] == len(pairs) and m["kept"] + m["broken"] == len(pairs)
    assert m["worst_kept_shapes"] == m["worst_kept"] and bench.choose({"worst_kept_shapes": 0.2344}) == 0.24
    assert m["false_passes"] == m["by_set"]["shapes"]["false_passes"] == sum(
        r["n"] - r["right"] for k, r in m["by_kind"].items() if k.split(":")[1] in bench.BROKEN_SHAPES)


def test_only_a_restyle_on_a_model_whose_alias_says_so_gets_the_check(tmp_path):
    from limner.agent._graph.nodes.core import restyle_kept
    from limner.tools.generators.models import BUILTIN

    assert BUILTIN["shapes-tiny"].restyle_structure and not BUILTIN["sdxl"].restyle_structure
    render_pil(SCENE).save(tmp_path / "parent.png")
    image = render_pil(Scene([*SCENE.objects, Obj("triangle", "green", 24, 48, 12)]))
    restyle = {"edit": {"parent_path": "parent.png", "target": {"expect": {"kept": [{"object": 0, "box": [0] * 4}]}}}}
    moved = {"edit": {"parent_path": "parent.png", "target": {"expect": {"object": 0, "inside": [0, 0, 1, 1]}}}}
    for spec, want in ((BUILTIN["shapes-tiny"], [False, None, None]), (BUILTIN["sdxl"], [None, None, None])):
        tb = SimpleNamespace(spec=spec, store=SimpleNamespace(dir=tmp_path))
        got = restyle_kept(tb, [restyle, moved, {}], [image] * 3)
        assert [None if g is None else g["detail"]["questions"][0]["passed"] for g in got] == want


@pytest.mark.parametrize("bench_name", ["structure", "preservation"])
def test_a_calibration_bench_without_scikit_image_says_how_to_get_it_in_one_line(bench_name, monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from limner.agent.cli import app

    monkeypatch.setitem(__import__("sys").modules, "skimage", None)  # as if not installed
    out = tmp_path / "r.json"
    result = CliRunner().invoke(app, ["bench", bench_name, "--results", str(out)])
    assert result.exit_code == 2 and "pip install scikit-image" in result.output and not out.exists()
    assert "Traceback" not in result.output
