import pytest

from limner.agent.plan import PlanDraft
from limner.agent.planners.rules import RulesPlanner, parse, plural, singular


@pytest.mark.parametrize(
    "prompt, objects, relations",
    [
        ("a photo of two red circles and a blue square", [(2, "red", "circle"), (1, "blue", "square")], []),
        ("a circle left of a triangle", [(1, None, "circle"), (1, None, "triangle")], [(0, "left of", 1)]),
        ("three squares", [(3, None, "square")], []),
        ("a purple triangle below a black circle", [(1, "purple", "triangle"), (1, "black", "circle")],
         [(0, "below", 1)]),
        ("a photo of a dog to the right of a teddy bear", [(1, None, "dog"), (1, None, "teddy bear")],
         [(0, "right of", 1)]),
        ("A photo of four giraffes.", [(4, None, "giraffe")], []),
        ("a photo of a red umbrella and a green cow", [(1, "red", "umbrella"), (1, "green", "cow")], []),
        ("two red circles above a blue square", [(2, "red", "circle"), (1, "blue", "square")], [(0, "above", 1)]),
        ("a photo of three knives", [(3, None, "knife")], []),
        ("a photo of 2 boxes", [(2, None, "box")], []),
    ],
)
def test_parses_geneval_style_prompts(prompt, objects, relations):
    objs, rels = parse(prompt)
    assert [(o.count, o.color, o.name) for o in objs] == objects
    assert [(r.subject, r.relation, r.object) for r in rels] == relations


def test_free_text_plans_its_noun_phrases_and_lists_the_words_it_cannot_check():
    plan = RulesPlanner().plan("a cozy cabin in snowy mountains at sunset")
    assert [(o.name, o.attributes) for o in plan.objects] == [("cabin", ["cozy"]), ("mountain", ["snowy"]),
                                                              ("sunset", [])]
    assert plan.relations == [] and plan.rewritten_prompt == "a cozy cabin in snowy mountains at sunset"
    assert [(u.text, u.span) for u in plan.unplanned] == [("in", [13, 15]), ("at", [32, 34])]
    assert plan.checks[-1].question == "Does the image show everything the prompt describes?"  # for a VLM


def test_plan_has_dependent_checks_and_says_who_made_it():
    plan = RulesPlanner().plan("a photo of two red circles left of a blue square")
    assert plan.planner == "rules" and plan.version == 1
    ids = {c.id: c for c in plan.checks}
    assert ids["o0-count"].depends_on == ["o0"] and ids["o0-color"].depends_on == ["o0"]
    assert ids["r0"].depends_on == ["o0", "o1"]
    assert ids["o0-count"].question == "Are there exactly 2 circles?"
    assert plan.rewritten_prompt == "a photo of two red circles left of a blue square"


def test_replan_is_deterministic_and_changes_the_wording():
    planner = RulesPlanner()
    first = planner.plan("three squares")
    second = planner.replan(first, "best score 0.2")
    assert second.version == 2 and second.rewritten_prompt != first.rewritten_prompt
    assert second.objects == first.objects
    assert planner.replan(first, "best score 0.2") == second


@pytest.mark.parametrize("word", ["circle", "box", "knife", "person", "teddy bear", "cherry", "bus", "glass"])
def test_plural_and_singular_round_trip(word):
    last = word.split()[-1]
    assert singular(plural(last)) == last


def test_plan_schema_rejects_dangling_relations_and_checks():
    with pytest.raises(ValueError):
        PlanDraft(rewritten_prompt="x", objects=[{"name": "circle"}],
                  relations=[{"subject": 0, "relation": "left of", "object": 3}])
    with pytest.raises(ValueError):
        PlanDraft(rewritten_prompt="x", checks=[{"id": "a", "question": "?", "depends_on": ["missing"]}])
    with pytest.raises(ValueError):
        PlanDraft(rewritten_prompt="x", relations=[], objects=[{"name": "c", "count": 0}])


def test_prompts_outside_the_shapes_world_are_kept_as_written_through_replans():
    from limner.agent.planners.rules import RulesPlanner

    planner = RulesPlanner()
    for prompt in ["a corgi astronaut, studio photo", "a red bicycle left of a blue door",
                   "a cinematic photo of a lighthouse at dusk, 35mm"]:
        plan = planner.plan(prompt)
        again = planner.replan(planner.replan(plan, "low score"), "still low")
        assert plan.rewritten_prompt == again.rewritten_prompt == prompt
        assert "white background" not in again.rewritten_prompt
    corgi = planner.plan("a corgi astronaut, studio photo")
    assert [o.name for o in corgi.objects] == ["corgi astronaut"]  # style after the comma is not an object
    shapes = planner.replan(planner.plan("two red circles and a blue square"), "low")
    assert shapes.rewritten_prompt != "two red circles and a blue square"  # the shapes world is rewritten
