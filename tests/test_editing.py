"""Editing tools alone: inpainting keeps every pixel outside the softened mask; masks and boxes are checked."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from limner.tools.editing import box_mask_image, composite, inpaint, load_mask, soften, variation
from limner.tools.generators import resolve_model
from limner.tools.generators.diffusers_backend import DiffusersGenerator


@pytest.fixture(scope="module")
def gen(limner_home):
    import os

    os.environ["LIMNER_HOME"] = str(limner_home)
    return DiffusersGenerator(resolve_model("tiny-random-sd").with_overrides(steps=2))


def _photo() -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))


def test_inpainting_keeps_pixels_outside_the_softened_mask_identical(gen):
    image = _photo()
    mask = box_mask_image(image.size, [0.5, 0.25, 1.0, 0.75])
    result = inpaint(gen, image, mask, "a blue square", seeds=[1, 2], feather=2)
    soft = np.asarray(soften(mask, 2))
    original = np.asarray(image)
    for edited in result.images:
        e = np.asarray(edited)
        assert np.array_equal(e[soft == 0], original[soft == 0])
        assert not np.array_equal(e[soft == 255], original[soft == 255])  # the region did change
    assert result.nfe == 2 * 2 * 2  # 2 steps x CFG x 2 images, counted on the shared UNet
    assert result.params["editor"] == "inpaint" and result.params["seeds"] == [1, 2]


def test_an_edit_runs_at_the_model_s_edit_guidance_records_it_and_takes_the_caller_s(gen):
    from dataclasses import replace

    from limner.tools.generators import resolve_model

    image, mask = _photo(), box_mask_image((64, 64), [0.5, 0.25, 1.0, 0.75])
    assert resolve_model("shapes-tiny").edit_guidance == 2.0 and resolve_model("sdxl").edit_guidance is None
    plain = inpaint(gen, image, mask, "a blue square", seeds=[1])
    assert plain.params["guidance"] == gen.spec.guidance == 5.0  # no edit guidance stated: the model's own
    asked = inpaint(gen, image, mask, "a blue square", seeds=[1], guidance=2.0)
    assert asked.params["guidance"] == 2.0
    assert not np.array_equal(np.asarray(asked.images[0]), np.asarray(plain.images[0]))
    spec = gen.spec
    try:  # a model that states its edit guidance runs at it
        gen.spec = replace(spec, edit_guidance=2.0)
        stated = inpaint(gen, image, mask, "a blue square", seeds=[1])
    finally:
        gen.spec = spec
    assert stated.params["guidance"] == 2.0
    assert np.array_equal(np.asarray(stated.images[0]), np.asarray(asked.images[0]))


def test_inpainting_reuses_the_loaded_weights(gen):
    inpaint(gen, _photo(), box_mask_image((64, 64), [0, 0, 0.5, 0.5]), "x", seeds=[0])
    assert gen._inpaint_pipe.unet is gen.pipe.unet and gen._inpaint_pipe.vae is gen.pipe.vae


def test_variation_makes_one_image_per_seed_at_the_given_strength(gen):
    result = variation(gen, _photo(), "a picture", seeds=[1, 2, 3], strength=0.5)
    assert len(result.images) == 3 and result.params["strength"] == 0.5
    assert result.nfe == 3 * 2 * 1  # half of 2 steps, CFG, 3 images
    with pytest.raises(ValueError, match="strength"):
        variation(gen, _photo(), "a picture", seeds=[1], strength=0)


def test_soften_grows_the_mask_with_a_linear_fall_off_and_composite_keeps_the_rest():
    mask = box_mask_image((16, 16), [0.25, 0.25, 0.75, 0.75])
    soft = np.asarray(soften(mask, 2))
    assert soft[8, 8] == 255 and soft[8, 3] == 170 and soft[8, 2] == 85 and soft[8, 1] == 0
    a = Image.new("RGB", (16, 16), (0, 0, 0))
    b = Image.new("RGB", (16, 16), (255, 255, 255))
    out = np.asarray(composite(a, b, Image.fromarray(soft)))
    assert out[8, 8, 0] == 255 and out[8, 3, 0] == 170 and out[0, 0, 0] == 0


def test_bad_masks_and_boxes_get_one_clear_line(tmp_path):
    with pytest.raises(ValueError, match="no area"):
        box_mask_image((64, 64), [0.5, 0.5, 0.4, 0.9])
    Image.new("L", (32, 32), 255).save(tmp_path / "small.png")
    with pytest.raises(ValueError, match="the image is 64x64"):
        load_mask(tmp_path / "small.png", (64, 64))
    Image.new("L", (64, 64), 0).save(tmp_path / "empty.png")
    with pytest.raises(ValueError, match="empty"):
        load_mask(tmp_path / "empty.png", (64, 64))
