"""``limner bench inventory``: how a detector's doubt score is chosen and measured (the parser as truth)."""

from typer.testing import CliRunner

from limner.bench.inventory import choose, matched


def test_a_speck_the_detector_misses_is_a_miss_and_a_box_on_nothing_an_invention():
    square = {"shape": "square", "color": "green", "bbox": [35, 3, 62, 29], "area": 596}
    speck = {"shape": "circle", "color": "blue", "bbox": [52, 3, 62, 9], "area": 41}
    assert matched([square, speck], [{"bbox": [36, 4, 61, 29]}]) == (1, 0)
    assert matched([square, speck], [{"bbox": [36, 4, 61, 29]}, {"bbox": [58.6, 2.5, 64, 13.2]}]) == (0, 0)
    assert matched([square], [{"bbox": [36, 4, 61, 29]}, {"bbox": [0, 40, 10, 50]}]) == (0, 1)


def test_the_rule_counts_a_miss_twice_and_prefers_the_higher_doubt_on_ties():
    rows = {"0.4": {"cost": 10}, "0.3": {"cost": 8}, "0.2": {"cost": 8}}
    assert choose(rows) == 0.3


def test_inventory_without_images_is_one_line(tmp_path):
    from limner.agent.cli import app

    result = CliRunner().invoke(app, ["bench", "inventory", "--dev", str(tmp_path)])
    assert result.exit_code == 2 and "no candidate images" in result.output and "Traceback" not in result.output


def test_inventory_refuses_a_detector_folder_that_is_not_one(tmp_path):
    from PIL import Image

    from limner.agent.cli import app

    (tmp_path / "run" / "candidates").mkdir(parents=True)
    Image.new("RGB", (64, 64), "white").save(tmp_path / "run" / "candidates" / "r01-c01.png")
    result = CliRunner().invoke(app, ["bench", "inventory", "--dev", str(tmp_path), "--detector", str(tmp_path),
                                      "--results", str(tmp_path / "out.json")])
    assert result.exit_code == 2 and "not a detector folder" in result.output and not (tmp_path / "out.json").exists()


def test_the_grid_starts_at_the_detectors_own_threshold():
    from limner.bench.inventory import grid_for

    assert grid_for(0.5) == (0.5, 0.4, 0.35, 0.3, 0.25, 0.2, 0.15, 0.1)
    assert grid_for(0.4) == (0.4, 0.35, 0.3, 0.25, 0.2, 0.15, 0.1)


def test_the_confidence_rule_counts_a_false_pass_twice_and_prefers_the_lower_level_on_ties():
    from limner.bench.confidence import choose, grid_for

    assert choose({"0.4": {"cost": 10}, "0.6": {"cost": 8}, "0.7": {"cost": 8}}) == 0.6
    assert grid_for(0.4) == (0.0, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)  # 0: no level
    assert grid_for(0.5) == (0.0, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)


def test_confidence_without_passed_candidates_is_one_line(tmp_path):
    from limner.agent.cli import app

    result = CliRunner().invoke(app, ["bench", "confidence", "--dev", str(tmp_path)])
    assert result.exit_code == 2 and "no passed candidates" in result.output and "Traceback" not in result.output


def test_confidence_answers_each_passed_candidate_again_by_the_detector_and_the_parser(tmp_path):
    """A clean rendering both readers pass; a square painted where the plan asks a circle, recorded as passed,
    neither does (so it is no false pass, nor a lost one); a candidate that failed is not looked at."""
    import json

    from limner.agent.planners.rules import rules_plan
    from limner.bench.confidence import measure, passed_candidates
    from limner.tools.shapes.world import Obj, Scene, render_pil

    plan = {**rules_plan("a red circle left of a blue square"), "version": 1}
    (tmp_path / "run" / "candidates").mkdir(parents=True)
    scenes = {"r01-c00": [Obj("circle", "red", 6, 22, 20), Obj("square", "blue", 38, 22, 20)],
              "r01-c01": [Obj("square", "red", 6, 22, 20), Obj("square", "blue", 38, 22, 20)],
              "r01-c02": [Obj("circle", "red", 6, 22, 20)]}
    for cid, objects in scenes.items():
        render_pil(Scene(objects)).save(tmp_path / "run" / "candidates" / f"{cid}.png")
    failed = {"r01-c02": ["o1"]}
    (tmp_path / "run" / "manifest.json").write_text(json.dumps({"plans": [plan], "candidates": [
        {"id": cid, "path": f"candidates/{cid}.png", "plan_version": 1,
         "scores": {"questions": {"detail": {"failed": failed.get(cid, [])}}}} for cid in scenes]}))
    items = passed_candidates(tmp_path)
    assert [p.name for p, _ in items] == ["r01-c00.png", "r01-c01.png"]
    row = measure(items, (0.0,))["0.0"]
    assert row == {"candidates": 2, "parser_passes": 1, "passes": 1, "false_passes": 0, "lost": 0, "cost": 0}
