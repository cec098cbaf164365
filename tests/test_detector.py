"""The detector answerer: an open-vocabulary detector (OWLv2's class, tiny random weights under the real hub id)
answers the plan's checks with boxes, by GenEval's rules; `limner verify` prints them."""

import json

import pytest
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from tiny_pipelines import place_in_hf_cache, save_tiny_owlv2

from limner.agent.planners.rules import rules_plan
from limner.tools.verifiers import make_verifier
from limner.tools.verifiers.requirements import REAL_CLIP, REAL_DETECTOR

PROMPT = "a red bicycle left of a blue door"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """A Hugging Face cache holding a tiny random OWLv2 and CLIP under the ids a user downloads."""
    from limner.tools.generators.tiny import ensure_tiny_clip

    root = tmp_path_factory.mktemp("detector-hub")
    place_in_hf_cache(save_tiny_owlv2(root / "owlv2"), root / "hub", REAL_DETECTOR)
    place_in_hf_cache(ensure_tiny_clip(root / "clip"), root / "hub", REAL_CLIP)
    return root / "hub"


def _use_cache(monkeypatch, hub):
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))


@pytest.fixture
def offline_hub(hub, monkeypatch):
    _use_cache(monkeypatch, hub)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return hub


def photo(path=None):
    image = Image.new("RGB", (96, 64), (235, 235, 235))
    draw = ImageDraw.Draw(image)
    draw.rectangle((6, 20, 38, 52), fill=(200, 30, 30))
    draw.rectangle((60, 4, 88, 60), fill=(30, 60, 200))
    if path is not None:
        image.save(path)
    return image


def test_the_detector_answers_every_structured_check_with_a_box_inside_the_image(offline_hub):
    from limner.tools.verifiers.answerers import DetectorAnswerer
    from limner.tools.verifiers.detector import Detector

    plan = rules_plan(PROMPT)
    verifier = make_verifier("questions", answerer="detector", detector=REAL_DETECTOR, clip=REAL_CLIP,
                             threshold=0.0, plan_fn=lambda _p: plan)
    assert isinstance(verifier.answerer, DetectorAnswerer) and verifier.answerer.color == "clip"
    verifier.answerer.detector._load()  # through AutoModelForZeroShotObjectDetection, from the hub cache
    assert type(verifier.answerer.detector._model).__name__ == "Owlv2ForObjectDetection"
    score = verifier.score([photo()], [PROMPT])[0]
    records = {q["id"]: q for q in score.detail["questions"]}
    assert set(records) == {c["id"] for c in plan["checks"]}
    for q in records.values():
        assert q["answer"] in (0.0, 1.0)
    # threshold 0: every patch is a candidate, so each object is found and has a box inside the image
    for cid in ("o0", "o1"):
        assert records[cid]["passed"]
        x0, y0, x1, y1 = records[cid]["box"]
        assert 0 <= x0 < x1 <= 96 and 0 <= y0 < y1 <= 64
    found = verifier.answerer.objects(photo(), plan)
    assert {f["name"] for f in found} == {"bicycle", "door"}
    assert all(f["color"] in verifier.answerer._palette(plan) for f in found)  # CLIP chose among the palette
    assert Detector(REAL_DETECTOR, threshold=0.0).detect(photo(), []) == {}


def test_nothing_found_fails_the_object_and_its_dependants_with_no_box(offline_hub):
    plan = rules_plan(PROMPT)
    verifier = make_verifier("questions", answerer="detector", detector=REAL_DETECTOR, clip=REAL_CLIP,
                             threshold=1.01, plan_fn=lambda _p: plan)
    score = verifier.score([photo()], [PROMPT])[0]
    records = {q["id"]: q for q in score.detail["questions"]}
    assert score.score == 0.0 and not any(q["passed"] for q in records.values())
    assert records["o0"]["box"] is None and records["o0-color"]["skipped_by_parent"]
    assert records["r0"]["skipped_by_parent"]


def test_limner_verify_prints_each_question_with_its_box(offline_hub, tmp_path, monkeypatch):
    from limner.agent.cli import app

    monkeypatch.setenv("COLUMNS", "220")  # rich's width: one table row per line
    image = tmp_path / "photo.png"
    photo(image)
    result = CliRunner().invoke(app, ["verify", str(image), PROMPT, "-v", "questions", "--answerer", "detector",
                                      "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    questions = data["verifiers"]["questions"]
    assert questions["describe"]["answerer"] == "detector"
    assert questions["describe"]["answerer_options"]["model"] == REAL_DETECTOR
    assert [q["id"] for q in questions["detail"]["questions"]] == ["o0", "o0-color", "o1", "o1-color", "r0"]
    table = CliRunner().invoke(app, ["verify", str(image), PROMPT, "-v", "questions", "--answerer", "detector"])
    assert table.exit_code == 0, table.output
    assert f"answerer: detector ({REAL_DETECTOR}" in table.output and "Is the red bicycle left of the blue door?" in table.output
    boxes = [q["box"] for q in questions["detail"]["questions"] if q["box"]]
    assert all(str(b[0]) in table.output for b in boxes)  # each box is printed


def test_an_exclusion_is_answered_by_the_real_detector_architecture(offline_hub, tmp_path):
    """OWLv2 (tiny random components under the real repo id): the excluded class is one of the detector's
    queries and its `absent` check gets an answer (one label per box, as for every other check)."""
    from limner.agent.cli import app

    image = tmp_path / "photo.png"
    photo(image)
    result = CliRunner().invoke(app, ["verify", str(image), "a red bicycle and no cars", "-v", "questions",
                                      "--answerer", "detector", "--json"])
    assert result.exit_code == 0, result.output
    records = {q["id"]: q for q in json.loads(result.output)["verifiers"]["questions"]["detail"]["questions"]}
    assert records["x0"]["kind"] == "absent" and records["x0"]["question"] == "Is the image free of cars?"
    assert records["x0"]["answer"] in (0.0, 1.0)  # answered by the detector, not left out


def test_verify_with_the_detector_missing_offline_is_one_line_naming_pull(tmp_path, monkeypatch):
    from limner.agent.cli import app

    _use_cache(monkeypatch, tmp_path / "empty-hub")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    image = tmp_path / "photo.png"
    photo(image)
    result = CliRunner().invoke(app, ["verify", str(image), PROMPT, "-v", "questions", "--answerer", "detector"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"error: verifier questions needs {REAL_DETECTOR}, which is not in the local Hugging Face cache and "
        "HF_HUB_OFFLINE=1: run `limner pull --verifier questions:detector` once online"]
    from limner.agent.pull import requirements

    needed = requirements("sd-turbo", verifiers=["questions:detector"])  # what that pull would fetch
    from limner.tools.verifiers.requirements import default_clip_model

    assert [(r.what, r.ref) for r in needed] == [("verifier questions", REAL_DETECTOR),
                                                 ("verifier questions", default_clip_model("real"))]
    assert not needed[0].present
    bad = CliRunner().invoke(app, ["verify", str(image), PROMPT, "-v", "questions", "--answerer", "oracle"])
    assert bad.exit_code == 2 and "unknown answerer 'oracle'" in bad.output


class _Fixed:
    """An answerer that says yes to every check it is given, recording which."""

    name = "fixed"

    def __init__(self):
        self.asked = []

    def answer(self, image, plan):
        self.asked += [c["id"] for c in plan["checks"]]
        return {c["id"]: {"p_yes": 1.0, "box": None} for c in plan["checks"]}


def test_a_combined_answerer_sends_each_kind_of_check_to_its_answerer(offline_hub):
    from limner.tools.verifiers.answerers import CombinedAnswerer

    plan = rules_plan(PROMPT)
    plan["checks"].append({"id": "x0", "question": "Is the bicycle rusty?", "kind": "other", "object": 0,
                           "relation": None, "depends_on": ["o0"]})
    found = make_verifier("questions", answerer="detector", detector=REAL_DETECTOR, clip=REAL_CLIP,
                          threshold=1.01, plan_fn=lambda _p: plan).answerer
    vlm = _Fixed()
    answers = CombinedAnswerer(found, {"other": vlm}).answer(photo(), plan)
    assert vlm.asked == ["x0"] and answers["x0"]["p_yes"] == 1.0
    assert answers["o0"] == {"p_yes": 0.0, "box": None}  # the detector answered the rest
    assert set(answers) == {c["id"] for c in plan["checks"]}


def test_an_architecture_limner_cannot_read_is_refused_in_one_line(tmp_path):
    from limner.tools.verifiers.detector import Detector

    detector = Detector("some/detector")
    detector._model, detector._processor = object(), object()
    with pytest.raises(ValueError, match="is a object, which Limner cannot read: use one of Owlv2ForObjectDetection"):
        detector.detect(photo(), ["door"])


def test_grounding_dino_loads_the_same_way_and_scores_each_phrase_at_each_box(tmp_path):
    """Grounding DINO's class (tiny, random): one prompt of " . "-ended phrases, each phrase scored by its own
    tokens at every box; its colour can be read from the detector."""
    from tiny_pipelines import save_tiny_grounding_dino

    from limner.tools.verifiers.answerers import DetectorAnswerer
    from limner.tools.verifiers.detector import Detector

    folder = save_tiny_grounding_dino(tmp_path / "gdino", ("bicycle", "door", "red", "blue"))
    detector = Detector(str(folder), threshold=0.0)
    found = detector.detect(photo(), ["bicycle", "red door", "door"])
    assert detector.architecture.decoding == "grounding"
    assert all(found[p] for p in ("bicycle", "red door", "door"))
    d = found["door"][0]
    assert set(d["scores"]) == {"bicycle", "red door", "door"} and d["score"] == d["scores"]["door"]
    x0, y0, x1, y1 = d["bbox"]
    assert 0 <= x0 < x1 <= 96 and 0 <= y0 < y1 <= 64
    plan = rules_plan(PROMPT)
    objects = DetectorAnswerer(detector, color="detector").objects(photo(), plan)
    assert {o["name"] for o in objects} == {"bicycle", "door"} and all(o["color"] for o in objects)
    # 22 phrases (two names, each in 10 colours) do not fit in this model's 32-token prompt: asked in several
    assert len(detector._processor.tokenizer(" . ".join(["red bicycle"] * 22)).input_ids) > 32


def test_who_answers_the_checks_where(monkeypatch):
    """answerer auto: shapes-owl in the shapes world; on real images the detector when its weights are here, with
    the VLM answering the kinds a detector cannot when an endpoint is configured; the parser only when asked."""
    from limner.tools.verifiers import Where, declaration
    from limner.tools.verifiers import requirements as req

    questions = declaration("questions")
    shapes = questions.prepare({}, Where(world="shapes", parseable=True, llm=True))
    assert shapes.options["answerer"] == "detector" and shapes.options["detector"] == "builtin:shapes-owl"
    assert shapes.options["vlm_kinds"] == [] and not shapes.uses_llm
    assert questions.prepare({"answerer": "parser"}, Where(world="shapes", parseable=True, llm=False)).options == {
        "answerer": "parser"}
    monkeypatch.setattr(req, "is_present", lambda ref: False)
    assert questions.prepare({}, Where(world="real", parseable=False, llm=True)).options["answerer"] == "vlm"
    assert questions.prepare({}, Where(world="real", parseable=False, llm=False)).options is None
    monkeypatch.setattr(req, "is_present", lambda ref: True)
    both = questions.prepare({}, Where(world="real", parseable=False, llm=True))
    assert (both.options["answerer"], both.options["detector"]) == ("detector", REAL_DETECTOR)
    assert both.options["color"] == "clip" and both.uses_llm and both.llm_calls(5) == 1
    alone = questions.prepare({}, Where(world="real", parseable=False, llm=False))
    assert alone.options["vlm_kinds"] == [] and not alone.uses_llm
    asked = questions.prepare({"answerer": "detector", "vlm_kinds": ["other"]},
                              Where(world="real", parseable=False, llm=False))
    assert asked.uses_llm  # a run refuses it without an endpoint, in one line (runner.prepare)


def test_the_detector_localises_and_a_vlm_over_http_answers_what_it_cannot(offline_hub, llm_env):
    """The combined answerer end to end, as a run builds it with a detector and an endpoint: the tiny OWLv2
    answers the structured checks with boxes; the one check of kind "other" goes to the VLM server (one request
    holding only that question); the verifier's records join both."""
    from scripted_openai import Reply

    from limner.agent.config import load_settings
    from limner.agent.llm import LLMClient
    from limner.tools.verifiers import Where, declaration

    plan = rules_plan(PROMPT)
    plan["checks"].append({"id": "x0", "question": "Is the bicycle rusty?", "kind": "other", "object": 0,
                           "relation": None, "depends_on": ["o0"]})
    prepared = declaration("questions").prepare({}, Where(world="real", parseable=False, llm=True))
    assert prepared.options["answerer"] == "detector" and "vlm_kinds" not in prepared.options  # "other": the VLM's
    assert prepared.uses_llm and prepared.llm_calls(6) == 1
    options = {**prepared.options, "threshold": 0.0}
    llm_env.script(Reply(content=json.dumps({"description": "a red bicycle, rusty, beside a blue door",
                                             "answers": [{"id": "x0", "answer": "yes"}]})))
    verifier = make_verifier("questions", llm=LLMClient(load_settings()), plan_fn=lambda _p: plan, **options)
    score = verifier.score([photo()], [PROMPT])[0]
    assert len(llm_env.requests) == 1
    asked = [m for m in llm_env.requests[0]["messages"] if m["role"] == "user"][0]["content"][1]["text"]
    assert "x0: Is the bicycle rusty?" in asked and "o0" not in asked.replace("x0", "")
    records = {q["id"]: q for q in score.detail["questions"]}
    assert records["x0"]["passed"] and records["x0"]["box"] is None  # the VLM's: no box
    assert records["o0"]["passed"] and records["o0"]["box"] is not None  # the detector's, with its box
    assert score.detail["critique"] == "a red bicycle, rusty, beside a blue door"


def test_a_box_counts_for_the_plan_name_that_scores_highest_there():
    """A detector scores every name at every box: a square that also scores as "circle" above the threshold is
    one object, the square, not a third circle."""
    from limner.tools.verifiers.answerers import DetectorAnswerer

    def box(phrase, score, scores, bbox):
        return {"phrase": phrase, "score": score, "bbox": bbox, "scores": scores}

    class Found:
        def detect(self, image, phrases):
            circle_a = {"circle": 0.9, "square": 0.1, "red circle": 0.9, "blue square": 0.0}
            square = {"circle": 0.5, "square": 0.8, "red circle": 0.0, "blue square": 0.8}
            out = {p: [] for p in phrases}
            out["circle"] = [box("circle", 0.9, circle_a, [0, 0, 10, 10]), box("circle", 0.5, square, [20, 0, 30, 10])]
            out["square"] = [box("square", 0.8, square, [20, 0, 30, 10])]
            return out

    plan = rules_plan("a red circle and a blue square")
    answerer = DetectorAnswerer(Found(), color="detector", colors=("red", "blue"))
    objects = answerer.objects(photo(), plan)
    assert [(o["name"], o["bbox"]) for o in objects] == [("circle", [0, 0, 10, 10]), ("square", [20, 0, 30, 10])]


def test_a_closed_vocabulary_detector_gives_no_answer_about_objects_it_was_never_taught():
    """shapes-owl was taught circles, squares and triangles: asked about a cat it finds a shape, so a check
    about a cat has no answer (left out of the score) rather than a false yes."""
    from PIL import Image

    from limner.agent.planners.rules import rules_plan
    from limner.tools.verifiers.answerers import DetectorAnswerer
    from limner.tools.verifiers.detector import Detector

    class Seeing:  # finds one confident box for every phrase, as shapes-owl does for any name
        vocabulary = frozenset({"circle", "square", "triangle"})

        def detect(self, image, phrases):
            return {p: [{"bbox": [10, 10, 30, 30], "score": 0.9, "scores": {p: 0.9}}] for p in phrases}

        def describe(self):
            return {}

    plan = rules_plan("a cat left of a circle")
    answers = DetectorAnswerer(Seeing(), color="detector").answer(Image.new("RGB", (64, 64)), plan)
    assert answers["o1"]["p_yes"] == 1.0  # the circle: taught, answered
    assert answers["o0"]["p_yes"] is None and "not cat" in answers["o0"]["note"]
    assert answers["r0"]["p_yes"] is None  # a relation involving the cat
    shipped = Detector("builtin:shapes-owl")
    assert shipped.vocabulary == {"circle", "square", "triangle"}


@pytest.mark.slow
def test_a_run_the_embedded_model_cannot_draw_stops_after_its_first_round_and_says_why(tmp_path, shapes_defaults):
    """'a photo of a cat' on shapes-tiny: shapes-owl cannot answer a check about a cat and the model cannot draw
    one, so more rounds cannot be judged; the run stops after one round instead of spending its whole budget."""
    from limner.agent.runner import run

    result = run("a photo of a cat", seed=1, out=tmp_path / "runs")
    assert result.status == "unverified" and result.rounds == 1, result.stop_reason  # never a pass nothing checked
    assert "no verifier can answer any of the plan's" in result.stop_reason
    assert "unverified: no verifier could answer 1 of 1 checks: Is there a cat?" in result.stop_reason
    assert "model shapes-tiny draws only circles, squares and triangles" in result.stop_reason
    assert result.final_path is not None


def test_a_weak_box_fails_nothing_else_is_there_but_never_passes_a_check_that_something_is():
    """Between the detector's ``doubt`` and its threshold, a box counts against 'only' and 'absent' checks (a
    miss there is a false pass), never for 'exists'; a weak box centred in a sure one and not much smaller is
    that object again, a small one in its corner is not (a speck an edit left there)."""
    from limner.tools.verifiers.answerers import DetectorAnswerer

    class Weak:
        threshold, doubt, nms = 0.4, 0.3, 0.5
        vocabulary = frozenset({"circle", "square", "triangle"})

        def detect(self, image, phrases, threshold=None):
            least = self.threshold if threshold is None else threshold
            scores = {p: 0.0 for p in phrases}
            boxes = {"circle": [(0.9, [0, 0, 20, 20]), (0.33, [4, 4, 14, 14])],  # the circle, and it again
                     "triangle": [(0.35, [15, 0, 21, 5])]}  # a speck in the circle's corner, unsure
            return {p: [{"phrase": p, "score": s, "bbox": b, "scores": {**scores, p: s, f"red {p}": s}}
                        for s, b in boxes.get(p, []) if s >= least] for p in phrases}

    plan = {"objects": [{"name": "circle", "color": "red", "count": 1},
                        {"name": "triangle", "color": "red", "count": 1}],
            "exclusions": [{"name": "triangle", "color": None}], "relations": [],
            "checks": [{"id": "o0", "kind": "exists", "object": 0}, {"id": "o1", "kind": "exists", "object": 1},
                       {"id": "only", "kind": "only"}, {"id": "x0", "kind": "absent", "exclusion": 0}]}
    answerer = DetectorAnswerer(Weak(), color="detector", colors=("red",))
    found = answerer.objects(Image.new("RGB", (64, 64), "white"), plan)
    assert [(f["name"], f["sure"]) for f in found] == [("circle", True), ("triangle", False)]
    answers = answerer.answer(Image.new("RGB", (64, 64), "white"), plan)
    assert answers["o0"]["p_yes"] == 1.0 and answers["o1"]["p_yes"] == 0.0  # a weak triangle is not a triangle
    assert answers["x0"]["p_yes"] == 0.0 and answers["x0"]["box"] == [15, 0, 21, 5]  # but it is not nothing
    only_circle = {**plan, "objects": plan["objects"][:1], "exclusions": [],
                   "checks": [{"id": "only", "kind": "only"}]}
    assert answerer.answer(Image.new("RGB", (64, 64), "white"), only_circle)["only"]["p_yes"] == 0.0
    # without a doubt score (an open-vocabulary detector's default), a weak box is not looked at
    Weak.doubt = Weak.threshold
    assert answerer.answer(Image.new("RGB", (64, 64), "white"), only_circle)["only"]["p_yes"] == 1.0


def test_a_detector_takes_its_doubt_score_from_its_folder_or_the_caller_never_above_its_threshold():
    import json

    from limner.tools.verifiers.detector import Detector, folder_settings
    from limner.tools.verifiers.requirements import BUILTIN_SHAPES_DETECTOR

    shipped = folder_settings(BUILTIN_SHAPES_DETECTOR)
    d = Detector(BUILTIN_SHAPES_DETECTOR)
    # the retrained shapes-owl states none: `limner bench inventory` chose its threshold (benchmarks/results)
    assert d.doubt == shipped.get("doubt", d.threshold) <= d.threshold
    assert ("doubt" in d.describe()) == (d.doubt < d.threshold)
    asked = Detector(BUILTIN_SHAPES_DETECTOR, doubt=0.3)
    assert asked.doubt == 0.3 and asked.describe()["doubt"] == 0.3
    assert Detector(BUILTIN_SHAPES_DETECTOR, doubt=0.9).doubt == d.threshold  # never above the threshold
    assert json.loads(json.dumps(asked.describe())) == asked.describe()


def test_a_box_read_unsurely_is_something_there_but_never_the_asked_thing():
    """Above the threshold, a box whose reading (its name's score, and its colour's where the detector reads
    colours) is under the detector's ``confident`` level passes no check that something is there: the check
    fails at that box (the loop repairs it there); it still fills its place for 'only' and 'count'."""
    from limner.tools.verifiers.answerers import DetectorAnswerer

    class Reader:
        threshold, doubt, nms, confident = 0.4, 0.4, 0.5, 0.7
        vocabulary = frozenset({"circle", "square"})

        def detect(self, image, phrases, threshold=None):
            found = {"circle": (0.95, 0.9, [0, 0, 20, 20]),  # read surely: a red circle
                     "square": (0.9, 0.55, [30, 0, 50, 20])}  # a square, but of two colours: red only 0.55
            out = {p: [] for p in phrases}
            for name, (score, red, box) in found.items():
                scores = {p: 0.0 for p in phrases} | {name: score, f"red {name}": red, f"blue {name}": 0.3}
                out[name].append({"phrase": name, "score": score, "bbox": box, "scores": scores})
            return out

    plan = {"objects": [{"name": "circle", "color": "red", "count": 1},
                        {"name": "square", "color": "red", "count": 1}], "exclusions": [],
            "relations": [{"subject": 0, "relation": "left of", "object": 1}],
            "checks": [{"id": "o0", "kind": "exists", "object": 0}, {"id": "o1", "kind": "exists", "object": 1},
                       {"id": "c1", "kind": "color", "object": 1}, {"id": "n1", "kind": "count", "object": 1},
                       {"id": "r0", "kind": "relation", "relation": 0}, {"id": "only", "kind": "only"}]}
    image = Image.new("RGB", (64, 64), "white")
    answerer = DetectorAnswerer(Reader(), color="detector", colors=("red", "blue"))
    found = {f["name"]: f for f in answerer.objects(image, plan)}
    assert found["circle"]["confident"] and found["square"]["reading"] == 0.55 and not found["square"]["confident"]
    answers = answerer.answer(image, plan)
    assert answers["o0"]["p_yes"] == 1.0 and answers["only"]["p_yes"] == 1.0  # it is something, in its place
    for check in ("o1", "c1", "n1", "r0"):  # but not surely the red square: each check fails, pointing at it
        assert answers[check] == {"p_yes": 0.0, "box": [30, 0, 50, 20]}, check
    Reader.confident = None  # no level (a detector's default): it reads as what it scores, and passes
    assert all(a["p_yes"] == 1.0 for a in answerer.answer(image, plan).values())


def test_a_detector_takes_its_confident_level_from_its_folder_or_the_caller_never_under_its_threshold():
    import json

    from limner.tools.verifiers.detector import Detector, folder_settings
    from limner.tools.verifiers.requirements import BUILTIN_SHAPES_DETECTOR

    shipped = folder_settings(BUILTIN_SHAPES_DETECTOR)
    d = Detector(BUILTIN_SHAPES_DETECTOR)
    assert d.confident == shipped.get("confident") is None  # `limner bench confidence` chose none for it
    assert "confident" not in d.describe()
    asked = Detector(BUILTIN_SHAPES_DETECTOR, confident=0.8)
    assert asked.confident == 0.8 and asked.describe()["confident"] == 0.8
    assert Detector(BUILTIN_SHAPES_DETECTOR, confident=0.1).confident == d.threshold
    assert json.loads(json.dumps(asked.describe())) == asked.describe()
