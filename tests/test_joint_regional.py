"""Regional generation on MMDiT pipelines (SD3, FLUX) with tiny components of the real architectures: each
region's phrase is joined to the image tokens inside its box only, by a mask on the joint attention."""

from __future__ import annotations

import numpy as np
import pytest

from tiny_pipelines import save_tiny_flux, save_tiny_sd3

pytestmark = pytest.mark.slow  # diffusion end to end


def test_the_mask_joins_a_regions_tokens_to_its_box_only():
    from limner.tools.generators.joint_regional import joint_mask

    # 3 prompt tokens, a region of 2 tokens over the left half of a 2x2 token grid; FLUX order: text first
    m = joint_mask(5, [(3, 5)], [[0.0, 0.0, 0.5, 1.0]], (2, 2), text_first=True)
    img = slice(5, 9)
    left = [5, 7]  # row-major: (0, 0) and (1, 0)
    assert m[:3].all() or m[:3, :3].all()  # the prompt's tokens see everything
    assert m[img, 3:5][[0, 2]].all() and not m[img, 3:5][[1, 3]].any()  # left image tokens see the region
    assert m[3:5, left].all() and not m[3:5, [6, 8]].any() and not m[3:5, :3].any()
    assert m[img, :3].all() and m[img, img].all()
    m_sd3 = joint_mask(5, [(3, 5)], [[0.0, 0.0, 0.5, 1.0]], (2, 2), text_first=False)  # SD3: image first
    assert m_sd3[[0, 2]][:, 4 + 3:4 + 5].all() and not m_sd3[[1, 3]][:, 4 + 3:4 + 5].any()


@pytest.mark.parametrize("save, family", [(save_tiny_sd3, "sd3"), (save_tiny_flux, "flux")])
def test_a_region_acts_inside_its_box_and_repeats_exactly(tmp_path, save, family):
    from limner.tools.generators import resolve_model
    from limner.tools.generators.diffusers_backend import DiffusersGenerator

    folder = save(tmp_path / family)
    gen = DiffusersGenerator(resolve_model(str(folder)).with_overrides(steps=2, width=64, height=64), device="cpu")
    assert gen.spec.family == family and not gen.spec.caps.lacks("regional")
    plain = gen.generate("a picture", seeds=[5])
    left = [{"phrase": "a red circle", "box": [0.0, 0.0, 0.5, 1.0]}]
    with gen.regional(left):
        a = gen.generate("a picture", seeds=[5])
        again = gen.generate("a picture", seeds=[5])
    assert a.nfe == plain.nfe  # the regions' tokens ride in the same passes
    x, y = np.asarray(a.images[0]).astype(int), np.asarray(plain.images[0]).astype(int)
    assert (x == np.asarray(again.images[0])).all()
    assert (x != y).any()
    # what the region changed lies mostly in its box (attention also spreads it a little through image tokens)
    inside, outside = np.abs(x - y)[:, :32].mean(), np.abs(x - y)[:, 32:].mean()
    assert inside > outside, (inside, outside)
    # the processors are back: a plain call after the block is the plain call
    assert (np.asarray(gen.generate("a picture", seeds=[5]).images[0]) == y).all()
