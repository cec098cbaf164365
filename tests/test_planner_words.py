"""The rules planner on free-form English, as a new user writes it: classes of error, not cases, and ``limner plan``."""

import json
import re

import pytest
from hypothesis import example, given, settings, strategies as st
from typer.testing import CliRunner

from limner.agent.cli import app
from limner.agent.planners.rules import COLORS, PlanContradiction, RulesPlanner, SHAPES_WORLD, scene_request, singular

runner = CliRunner()
planner = RulesPlanner()


def _objects(prompt):
    return [(o.count if o.exact else "some", o.color, o.name) for o in planner.plan(prompt).objects]


@pytest.mark.parametrize("prompt, objects", [
    ("a photo of 17 cats", [(17, None, "cat")]),  # more instances than a layout places: a plan without a layout
    ("ten cats and seven dogs", [(10, None, "cat"), (7, None, "dog")]),
    ("The red hat was on top of the brown coat rack", [(1, "red", "hat"), (1, "brown", "coat rack")]),  # a verb
    ("a cat sitting left of a dog", [(1, None, "cat"), (1, None, "dog")]),
    ("rubber gloves", [("some", None, "rubber glove")]),  # a bare plural is some, not exactly two
    ("a photo of an orange", [(1, None, "orange")]),  # the fruit, not the colour
    ("a photo of three apples and an orange", [(3, None, "apple"), (1, None, "orange")]),
    ("a photo of an orange dog", [(1, "orange", "dog")]),
    ("a photo of two broccolis", [(2, None, "broccoli")]),
    ("a photo of a tennis racket", [(1, None, "tennis racket")]),
    ("two red circles\nhigh quality", [(2, "red", "circle")]),  # a second line is style, the checks stay
    ("a red circle\nand a blue square", [(1, "red", "circle"), (1, "blue", "square")]),
])
def test_free_form_prompts_are_read_as_people_mean_them(prompt, objects):
    assert _objects(prompt) == objects


@pytest.mark.parametrize("prompt, unplanned", [
    ("两个红色圆圈", ["两个红色圆圈"]), ("a photo of 25 cats", ["25 cats"]), ("make it blue", ["it", "blue"]),
    ("Ein Foto von zwei Katzen, übrigens", ["Ein Foto von zwei Katzen, übrigens"])])
def test_what_the_parser_cannot_read_is_kept_as_written_with_one_generic_check(prompt, unplanned):
    plan = planner.plan(prompt)
    assert plan.objects == [] and plan.rewritten_prompt == prompt
    assert [c.question for c in plan.checks] == ["Does the image show what the prompt describes?"]
    assert [u.text for u in plan.unplanned] == unplanned  # listed with their spans, never dropped
    assert all(prompt[u.span[0]:u.span[1]] == u.text for u in plan.unplanned)


def test_a_scene_with_a_verb_plans_its_objects_and_lists_the_verb():
    plan = planner.plan("a cat sitting on a mat")
    assert [o.name for o in plan.objects] == ["cat", "mat"] and plan.relations == []
    assert [u.text for u in plan.unplanned] == ["sitting on"] or [u.text for u in plan.unplanned] == ["on"]


def test_checks_are_english():
    questions = [c.question for c in planner.plan("an apple and rubber gloves and two oranges").checks]
    assert questions == ["Is there an apple?", "Are there rubber gloves?", "Is there an orange?",
                         "Are there exactly 2 oranges?"]
    hat = planner.plan("The red hat was on top of the brown coat rack")
    assert "Is the red hat above the brown coat rack?" in [c.question for c in hat.checks]


def test_more_instances_than_a_layout_places_is_a_plan_without_a_layout():
    plan = planner.plan("ten cats and seven dogs")
    assert plan.layout is None and "no layout: 17 instances" in plan.rationale
    assert [c.question for c in plan.checks if c.kind == "count"] == ["Are there exactly 10 cats?",
                                                                     "Are there exactly 7 dogs?"]
    assert planner.plan("four cats and four dogs and eight birds").layout is not None  # 16: placed


@pytest.mark.parametrize("request_, scene", [
    ("make it two green triangles", "two green triangles"), ("Now three squares, please", "three squares"),
    ("a photo of a dog instead", "a photo of a dog"), ("brighter", None), ("make them blue", None),
    ("more contrast please", None),
])
def test_a_persons_change_is_read_as_a_new_scene_or_left_as_words(request_, scene):
    assert scene_request(request_) == scene


def test_revise_with_a_request_phrased_as_an_instruction_changes_the_scene():
    first = planner.plan("a photo of a red circle")
    revised = planner.revise(first, "make it two green triangles")
    assert [(o.count, o.color, o.name) for o in revised.objects] == [(2, "green", "triangle")]
    assert revised.prompt == "two green triangles" and revised.version == 2


WORDS = st.sampled_from(["a", "an", "two", "17", "red", "orange", "was", "of", "and", "left", "on", "top", "cat",
                         "cats", "circles", "broccolis", "the", "is", "glass", "x", "两", "é", ",", "\n", "above",
                         "photo", "sitting", "oranges", "3", "25", "make", "it"])


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=80), st.lists(WORDS, max_size=14).map(" ".join)).filter(str.strip))
@example("NO,B")  # found by hypothesis: a brief that is only an exclusion keeps its words less the exclusion
@example("B:ABOVE<B:ABOVE<IT")  # found by hypothesis: "b above b above it" is a real contradiction
def test_any_text_gets_a_valid_plan_that_keeps_the_users_words(prompt):
    """Never a crash: a plan, or the brief's contradiction in one line that tells its parts apart; a prompt
    outside the shapes world is kept exactly as written; every object is named by the user's own words (a
    noun's singular), and its colour is one they wrote."""
    try:
        plan = planner.plan(prompt)
    except PlanContradiction as exc:
        said = re.findall(r"'([^']*)'", str(exc))
        assert "\n" not in str(exc) and len(said) >= 2 and len(set(said)) == len(said), str(exc)
        return
    from limner.agent.planners.reading import tokenize

    words = {t.text for t in tokenize(prompt)}
    stems = words | {singular(w) for w in words}
    for obj in plan.objects:
        assert set(obj.name.split()) <= stems
        assert obj.color is None or obj.color in words or (obj.color == "gray" and "grey" in words)
        assert obj.color is None or obj.color in COLORS | {"gray"}
    if not all(o.name in SHAPES_WORLD for o in plan.objects) or not plan.objects:
        if plan.exclusions:  # kept as written less its exclusion phrases ("no b"), which go to the negative prompt
            assert {t.text for t in tokenize(plan.rewritten_prompt)} <= words
            assert plan.negative_prompt
        else:
            assert plan.rewritten_prompt == prompt
    assert plan.checks  # at least the generic check


def test_limner_plan_prints_the_plan_without_generating(tmp_path):
    result = runner.invoke(app, ["plan", "The red hat was on top of the brown coat rack", "--model", "shapes-tiny"])
    assert result.exit_code == 0, result.output
    assert "check r0: Is the red hat above the brown coat rack?" in result.output
    assert "outside what it can draw" in result.output  # the embedded model cannot draw a hat
    result = runner.invoke(app, ["plan", "two red circles left of a blue square", "--json"])
    data = json.loads(result.output)
    assert data["planner"] == "rules" and data["notice"] is None
    assert [c["id"] for c in data["plan"]["checks"]] == ["o0", "o0-count", "o0-color", "o1", "o1-color", "r0"]
    assert len(data["plan"]["layout"]["regions"]) == 3


def test_limner_plan_file_plans_every_line_and_geneval_metadata(tmp_path):
    path = tmp_path / "prompts.txt"
    path.write_text('# a comment\na photo of 17 cats\n{"prompt": "two squares", "tag": "counting"}\n\n')
    result = runner.invoke(app, ["plan", "--file", str(path), "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["prompt"] for r in rows] == ["a photo of 17 cats", "two squares"]
    assert rows[0]["plan"]["layout"] is None and rows[1]["plan"]["objects"][0]["count"] == 2
    assert list(tmp_path.iterdir()) == [path]  # nothing written


@pytest.mark.parametrize("args, message", [
    (["plan"], "give a PROMPT or --file FILE"),
    (["plan", "x", "--file", "y"], "give a PROMPT or --file FILE"),
    (["plan", "--file", "missing.txt"], "does not exist"),
    (["plan", "a cat", "--planner", "llm"], "needs an LLM endpoint"),
    (["plan", "a cat", "--planner", "magic"], "unknown planner 'magic'"),
    (["plan", "a cat", "--model", "no-such-model"], "no-such-model"),
    (["plan", "   "], "the prompt is empty"),
])
def test_limner_plan_bad_input_is_one_line_and_exit_2(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and message in result.output, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_limner_plan_with_the_llm_planner(llm_env):
    from tests.scripted_openai import Reply

    draft = {"rewritten_prompt": "two red circles, flat colours", "objects": [{"name": "circle", "count": 2,
             "color": "red"}], "checks": [{"id": "c0", "question": "Are there two red circles?", "kind": "count",
                                           "object": 0}]}
    llm_env.script(Reply(content=json.dumps(draft)))
    result = runner.invoke(app, ["plan", "two red circles", "--planner", "llm", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["planner"].startswith("llm:") and data["plan"]["rewritten_prompt"] == "two red circles, flat colours"
    llm_env.script(Reply(content="not json"), Reply(content="still not json"))
    data = json.loads(runner.invoke(app, ["plan", "two red circles", "--planner", "llm", "--json"]).output)
    assert data["planner"] == "rules" and "used the rules planner" in data["fallback"]
