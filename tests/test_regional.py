"""Regional attention: a region's phrase acts inside its box, and the pipeline is left as it was."""

from __future__ import annotations

import numpy as np
import pytest

from limner.tools.generators import resolve_model
from limner.tools.generators.diffusers_backend import DiffusersGenerator
from limner.tools.generators.regional import box_mask

BOX = [0.0, 0.0, 0.5, 1.0]  # the left half


@pytest.fixture(scope="module")
def gen(limner_home):
    import os

    os.environ["LIMNER_HOME"] = str(limner_home)
    return DiffusersGenerator(resolve_model("tiny-random-sd").with_overrides(steps=2))


def _pixels(gen, phrase: str, **kwargs) -> np.ndarray:
    regions = [{"phrase": phrase, "box": BOX}, {"phrase": "a yellow cat", "box": [0.5, 0.0, 1.0, 1.0]}]
    with gen.regional(regions, base_ratio=0.0, **kwargs) as shared:
        image = gen.generate("a picture", seeds=[3]).images[0]
    assert shared.calls > 0
    return np.asarray(image, dtype=np.float64)


def _first_cross_attention(gen, phrase: str):
    """The first cross-attention layer's output (tokens as a 16x16 grid) with the left region showing ``phrase``."""
    import torch

    layer = gen.pipe.unet.down_blocks[1].attentions[0].transformer_blocks[0].attn2
    seen = []
    handle = layer.register_forward_hook(lambda module, args, out: seen.append(out.detach().clone()))
    try:
        _pixels(gen, phrase)
    finally:
        handle.remove()
    out = seen[0]  # the first step's call: its input does not depend on any region yet
    cond = out[out.shape[0] // 2:]  # CFG batch: [uncond, cond]
    return cond.reshape(cond.shape[0], 16, 16, -1).abs().sum(-1), torch


def test_a_regions_phrase_acts_only_inside_its_box_at_the_layer_and_mostly_there_in_pixels(gen):
    a, _ = _first_cross_attention(gen, "a red circle")
    b, _ = _first_cross_attention(gen, "a tall green tree by a lake")
    diff = (a - b).abs()
    assert diff[..., :7].min() > 0  # every token well inside the left box changed
    assert diff[..., 9:].max() == 0  # tokens beyond the box's soft edge are untouched
    # In pixels, self-attention and convolutions carry some of the change across the image, but most stays in the box.
    pa, pb = _pixels(gen, "a red circle"), _pixels(gen, "a tall green tree by a lake")
    pixels = np.abs(pa - pb).mean(-1)
    inside, outside = pixels[:, :28].mean(), pixels[:, 36:].mean()  # left half vs right half, soft edge left out
    assert inside > 0.5, "the region's phrase had no effect"
    assert inside > 1.5 * outside, (inside, outside)


def test_processors_are_restored_after_the_call_and_after_an_error(gen):
    before = dict(gen.pipe.unet.attn_processors)
    _pixels(gen, "a red circle")
    assert gen.pipe.unet.attn_processors == before
    with pytest.raises(RuntimeError):
        with gen.regional([{"phrase": "x", "box": BOX}]):
            raise RuntimeError("boom")
    assert gen.pipe.unet.attn_processors == before
    plain = gen.generate("a picture", seeds=[3]).images[0]
    again = gen.generate("a picture", seeds=[3]).images[0]
    assert np.array_equal(np.asarray(plain), np.asarray(again))


def test_base_ratio_one_is_the_plain_prompt(gen):
    plain = np.asarray(gen.generate("a picture", seeds=[5]).images[0])
    with gen.regional([{"phrase": "a red circle", "box": BOX}], base_ratio=1.0):
        blended = np.asarray(gen.generate("a picture", seeds=[5]).images[0])
    assert np.abs(plain.astype(int) - blended.astype(int)).max() <= 1


def test_bad_regions_are_refused_with_clear_errors(gen):
    for regions, words in [([], "at least one region"), ([{"phrase": "x", "box": [0.5, 0, 0.2, 1]}], "no area"),
                           ([{"phrase": "x", "box": [0, 0, 1.5, 1]}], "outside the canvas")]:
        with pytest.raises(ValueError, match=words):
            with gen.regional(regions):
                pass


def test_masks_are_soft_at_the_edge_and_one_inside():
    m = box_mask([0.25, 0.25, 0.75, 0.75], 64, 64).numpy()
    assert m[32, 32] == 1.0 and m[0, 0] == 0.0
    assert 0.0 < m[32, 15] < 1.0 and 0.0 < m[32, 16] < 1.0  # the pixels beside the edge fall off
