"""Layouts: the schema rejects bad boxes; the rules planner's boxes satisfy every relation of ShapesEval."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from limner.agent.layout import Layout, overlap
from limner.agent.plan import PlanDraft
from limner.agent.planners.rules import RulesPlanner
from limner.tools.shapes.geneval import relative_position
from limner.tools.shapes.suite import load_suite


def _layout(*boxes):
    return {"regions": [{"phrase": f"thing {i}", "box": list(b)} for i, b in enumerate(boxes)]}


@pytest.mark.parametrize("boxes, words", [
    ([(0.2, 0.2, 1.4, 0.6)], "outside the canvas"),
    ([(0.6, 0.2, 0.3, 0.6)], "no usable area"),
    ([(0.1, 0.1, 0.6, 0.6), (0.15, 0.15, 0.55, 0.55)], "overlap by 100%"),
    ([(0.1, 0.1, float("nan"), 0.6)], "not a number"),
])
def test_bad_layouts_are_rejected_with_the_reason(boxes, words):
    with pytest.raises(ValidationError, match=words):
        Layout.model_validate(_layout(*boxes))


def test_rounding_slop_is_repaired_not_rejected():
    layout = Layout.model_validate(_layout((-0.02, 0.1, 0.5, 1.03)))
    assert layout.regions[0].box == [0.0, 0.1, 0.5, 1.0]


def test_a_plan_whose_layout_names_a_missing_object_is_rejected():
    with pytest.raises(ValidationError, match="names object 3"):
        PlanDraft(rewritten_prompt="x", objects=[{"name": "cat"}],
                  layout={"regions": [{"phrase": "a cat", "box": [0, 0, 0.5, 0.5], "object": 3}]})


def test_the_layout_schema_is_part_of_the_llm_plan_schema():
    schema = PlanDraft.model_json_schema()
    assert "layout" in schema["properties"] and "Region" in schema["$defs"]


def test_rules_layouts_satisfy_every_count_and_relation_of_the_shipped_suite():
    planner = RulesPlanner()
    for meta in load_suite():
        plan = planner.plan(meta["prompt"])
        regions = plan.layout.regions
        assert len(regions) == sum(o.count for o in plan.objects), meta["prompt"]
        for i, a in enumerate(regions):
            assert all(0 <= v <= 1 for v in a.box)
            for b in regions[i + 1:]:
                assert overlap(a.box, b.box) == 0, meta["prompt"]
        for rel in plan.relations:
            subjects = [r.box for r in regions if r.object == rel.subject]
            targets = [r.box for r in regions if r.object == rel.object]
            for s in subjects:
                for t in targets:
                    px = lambda b: [v * 64 for v in b]  # noqa: E731
                    assert rel.relation in relative_position(px(s), px(t)), meta["prompt"]
