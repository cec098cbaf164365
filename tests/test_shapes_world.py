"""The shapes world: exact parser, GenEval scoring rules, the shipped suite, the world tokenizer."""

import json

import numpy as np
import pytest

from limner.tools.shapes.captions import caption
from limner.tools.shapes.geneval import evaluate, relative_position, score_image, summarize
from limner.tools.shapes.parser import parse
from limner.tools.shapes.suite import SHIPPED, load_suite, make_suite, satisfying_scene
from limner.tools.shapes.world import PALETTE, Obj, Scene, random_scene, render, shape_mask


def key(o):
    return (o["shape"], o["color"], tuple(o["bbox"]))


def test_parser_is_exact_on_1000_random_scenes():
    rng = np.random.default_rng(12345)
    for _ in range(1000):
        image, truth = render(random_scene(rng))
        assert sorted(map(key, parse(image))) == sorted(map(key, truth))


@pytest.mark.parametrize("shape", ["circle", "square", "triangle"])
@pytest.mark.parametrize("size", [12, 13, 17, 24])
def test_parser_reads_every_shape_at_every_size(shape, size):
    image, truth = render(Scene([Obj(shape, "purple", 20, 20, size)]))
    assert [key(o) for o in parse(image)] == [key(truth[0])]


def test_parser_tolerates_blur_and_noise():
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(7)
    correct = total = 0
    for _ in range(200):
        image, truth = render(random_scene(rng))
        blurred = np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(0.8))).astype(float)
        noisy = np.clip(blurred + rng.normal(0, 8, blurred.shape), 0, 255).astype(np.uint8)
        got = sorted((o["shape"], o["color"]) for o in parse(noisy))
        correct += got == sorted((o["shape"], o["color"]) for o in truth)
        total += 1
    assert correct / total > 0.9


def test_a_square_with_a_stray_fringe_or_a_slight_turn_is_still_a_square():
    """The model's squares often carry a partial one-pixel row along a side, or lean a few degrees: both
    pulled a square's box fill under the square/circle line, so the scorer called plain squares circles."""
    image, _ = render(Scene([Obj("square", "green", 20, 20, 22)]))
    image[19, 21:23] = PALETTE["green"]  # two stray pixels above the top side
    image[42, 22:36] = PALETTE["green"]  # a partial row under the bottom side
    assert [o["shape"] for o in parse(image)] == ["square"]
    for angle in (-8, -4, 5, 8):
        for shape in ("square", "circle"):
            turned = np.full((64, 64, 3), 255, dtype=np.uint8)
            turned[shape_mask(Obj(shape, "blue", 18, 18, 20), 64, angle)] = PALETTE["blue"]
            assert [o["shape"] for o in parse(turned)] == [shape], (shape, angle)


def test_the_parser_reads_degraded_renders_against_their_truth():
    """``limner.bench.parser_robustness`` on a fixed draw: every defect read with the right shape in at
    least 97% of objects (the scorer before the fringe and turn rules read turned squares at 0.84)."""
    from limner.bench.parser_robustness import measure

    table = measure(scenes=60, seed=3)
    assert table["clean"]["shape_right"] == 1.0
    assert all(row["shape_right"] >= 0.97 and row["missed"] <= 1 and row["invented"] == 0
               for row in table.values()), table


def test_parser_ignores_specks_and_reads_palette_colours():
    image, _ = render(Scene([Obj("square", "yellow", 5, 5, 14)]))
    image[50:53, 50:53] = PALETTE["red"]  # a 9-pixel speck
    assert [o["color"] for o in parse(image)] == ["yellow"]


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ([0, 20, 10, 30], [40, 20, 50, 30], {"left of"}),
        ([40, 20, 50, 30], [0, 20, 10, 30], {"right of"}),
        ([20, 0, 30, 10], [20, 40, 30, 50], {"above"}),
        ([20, 40, 30, 50], [20, 0, 30, 10], {"below"}),
        ([0, 0, 10, 10], [40, 40, 50, 50], {"left of", "above"}),
        ([10, 10, 20, 20], [12, 11, 22, 21], set()),  # within the 0.1 x size margin
    ],
)
def test_relative_position_follows_geneval(a, b, expected):
    assert relative_position(a, b) == expected


def test_scorer_applies_counts_colours_and_positions():
    def objs(*specs):
        return [{"shape": s, "color": c, "bbox": b} for s, c, b in specs]

    count3 = {"tag": "counting", "include": [{"class": "circle", "count": 3}], "exclude": [{"class": "circle", "count": 4}]}
    three = objs(*[("circle", "red", [i * 15, 0, i * 15 + 12, 12]) for i in range(3)])
    assert evaluate(three, count3)[0]
    assert not evaluate(three[:2], count3)[0]
    assert "expected circle<4" in evaluate(three + objs(("circle", "red", [50, 50, 62, 62])), count3)[1]
    color = {"tag": "colors", "include": [{"class": "square", "count": 1, "color": "blue"}]}
    assert evaluate(objs(("square", "blue", [0, 0, 12, 12])), color)[0]
    assert not evaluate(objs(("square", "green", [0, 0, 12, 12])), color)[0]
    pos = {"tag": "position", "include": [{"class": "square", "count": 1},
                                          {"class": "circle", "count": 1, "position": ["left of", 0]}]}
    assert evaluate(objs(("square", "red", [40, 10, 52, 22]), ("circle", "red", [0, 10, 12, 22])), pos)[0]
    assert not evaluate(objs(("square", "red", [0, 10, 12, 22]), ("circle", "red", [40, 10, 52, 22])), pos)[0]


def test_every_suite_prompt_is_satisfiable_and_violations_fail():
    rng = np.random.default_rng(0)
    results = []
    for metadata in load_suite():
        scene = satisfying_scene(metadata, rng)
        image, _ = render(scene)
        results.append(score_image(image, metadata))
        # drop one required object: the image must now fail
        if len(scene.objects) > 1:
            broken = render(Scene(scene.objects[1:]))[0]
            assert not score_image(broken, metadata)["correct"], metadata["prompt"]
    assert all(r["correct"] for r in results)
    summary = summarize(results)
    assert summary["overall"] == 1.0 and set(summary["tags"]) == {
        "single_object", "two_object", "counting", "colors", "position", "color_attr"}


def test_shipped_suite_is_what_the_generator_makes():
    assert load_suite() == make_suite(seed=43, per_tag=50)
    lines = SHIPPED.read_text().splitlines()
    for line in lines:
        m = json.loads(line)
        assert set(m) <= {"tag", "prompt", "include", "exclude"}
        for clause in m["include"]:
            assert set(clause) <= {"class", "count", "color", "position"}


def test_captions_are_true_of_their_scenes():
    from limner.agent.planners.rules import parse as parse_prompt

    rng = np.random.default_rng(3)
    for _ in range(300):
        _, truth = render(random_scene(rng))
        text = caption(truth, rng)
        objects, relations = parse_prompt(text)
        assert sum(o.count for o in objects) == len(truth), text

        def matching(o):
            return [t for t in truth if t["shape"] == o.name and (o.color is None or t["color"] == o.color)]

        wanted = {}
        for o in objects:
            wanted[(o.name, o.color)] = wanted.get((o.name, o.color), 0) + o.count
        for o in objects:
            assert len(matching(o)) == wanted[(o.name, o.color)], text
        for r in relations:
            a, b = objects[r.subject], objects[r.object]
            assert any(r.relation in relative_position(ta["bbox"], tb["bbox"])
                       for ta in matching(a) for tb in matching(b) if ta is not tb), text


def test_world_tokenizer_makes_each_world_word_one_token():
    from limner.tools.shapes.tokenizer import WORDS, world_tokenizer

    tok = world_tokenizer()
    for word in WORDS:
        assert len(tok(word, add_special_tokens=False).input_ids) == 1, word
    assert tok.decode(tok("a photo of two red circles").input_ids, skip_special_tokens=True) == "a photo of two red circles"
    assert len(tok("a zebra", add_special_tokens=False).input_ids) > 2  # other words still tokenize, byte by byte
