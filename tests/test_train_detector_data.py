"""The detector's training data: specks added to rendered scenes are labelled by the parser (what the scorer
sees), and kept session runs join the pool with the parser's labels."""

import numpy as np
import pytest

pytest.importorskip("transformers")
train_detector = pytest.importorskip("training.train_detector")

from limner.tools.shapes.parser import parse
from limner.tools.shapes.world import random_scene, render


def test_specks_are_labelled_as_the_parser_reads_them():
    images, labels = train_detector.rendered_pool(np.random.default_rng(3), 60, specks=1.0)
    for image, label in zip(images, labels):
        assert label == train_detector.labels_of(parse(image))
    _, clean = train_detector.rendered_pool(np.random.default_rng(3), 60, specks=0.0)
    # 1-3 specks per scene, most of them 30 pixels or more: the parser finds clearly more objects
    assert sum(map(len, labels)) > sum(map(len, clean)) + 40


def test_no_specks_keeps_exact_labels():
    rng = np.random.default_rng(0)
    images, labels = train_detector.rendered_pool(rng, 10, specks=0.0)
    for image, label in zip(images, labels):
        assert len(label) == len(parse(image))


def test_a_speck_is_small_and_sometimes_at_an_edge():
    rng = np.random.default_rng(1)
    _, truth = render(random_scene(rng, 2))
    areas = [int(train_detector.speck_mask(rng, truth)[0].sum()) for _ in range(200)]
    assert max(areas) < 24 * 24 and np.median(areas) < 200
    assert sum(a >= 30 for a in areas) > 100  # most are objects to the parser, some are noise under its minimum


def test_extra_folders_join_with_parser_labels(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(2)
    image, _ = render(random_scene(rng, 3))
    (tmp_path / "run" / "candidates").mkdir(parents=True)
    Image.fromarray(image).save(tmp_path / "run" / "candidates" / "r01-c01.png")
    Image.fromarray(image).save(tmp_path / "run" / "other.png")  # not a candidate: not read
    images, labels = train_detector.extra_pool([tmp_path])
    assert len(images) == 1 and labels[0] == train_detector.labels_of(parse(image))


def test_a_pair_scene_puts_two_of_one_shape_and_colour_side_by_side_that_the_parser_tells_apart():
    rng = np.random.default_rng(4)
    ways = set()
    for _ in range(200):
        scene = train_detector.pair_scene(rng)
        a, b, *others = scene.objects
        assert (a.shape, a.color) == (b.shape, b.color) and len(others) <= 2
        assert all(o.x >= 0 and o.y >= 0 and o.x + o.size <= 64 and o.y + o.size <= 64 for o in scene.objects)
        gap = max(b.x - (a.x + a.size), a.x - (b.x + b.size), b.y - (a.y + a.size), a.y - (b.y + b.size))
        assert 2 <= gap <= 5  # nearly touching, never touching
        ways.add((np.sign(b.x - a.x), np.sign(b.y - a.y)))
        image, truth = render(scene)
        assert len(parse(image)) == len(truth)  # two objects to the scorer, not one
    assert len(ways) >= 3  # across, down, diagonally
