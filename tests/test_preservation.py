"""The edit preservation check: outside the edited region the image must be as it was (issue 35)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from limner.tools.editing import box_mask_image
from limner.tools.shapes.world import Obj, Scene, render_pil
from limner.tools.verifiers.preservation import MAX_WINDOW_DIFF, as_score, preservation

SCENE = [Obj("circle", "red", 4, 4, 16), Obj("square", "green", 40, 6, 16), Obj("triangle", "blue", 24, 40, 18)]
REGION = [0.0, 0.0, 0.4, 0.4]  # around the circle


def _scene(*objs) -> Image.Image:
    return render_pil(Scene(list(objs)))


def test_a_change_inside_the_region_passes_and_one_outside_fails_where_it_happened():
    source = _scene(*SCENE)
    region = box_mask_image(source.size, REGION)
    inside = _scene(Obj("circle", "blue", 4, 4, 16), *SCENE[1:])  # the edit: the circle recoloured
    assert preservation(source, inside, region).passed
    outside = _scene(Obj("circle", "blue", 4, 4, 16), Obj("square", "red", 40, 6, 16), SCENE[2])
    r = preservation(source, outside, region)
    assert not r.passed and r.worst_window > MAX_WINDOW_DIFF
    x0, y0, x1, y1 = r.worst_box  # the worst window lies on the square that changed
    assert x1 > 40 / 64 and x0 < 56 / 64 and y0 < 22 / 64
    removed = _scene(Obj("circle", "blue", 4, 4, 16), SCENE[1])
    assert not preservation(source, removed, region).passed


def test_imperceptible_changes_outside_pass():
    source = _scene(*SCENE)
    region = box_mask_image(source.size, REGION)
    buf = io.BytesIO()
    source.save(buf, "JPEG", quality=90)
    jpeg = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    noisy = Image.fromarray(np.clip(np.asarray(source, np.float32) + np.random.default_rng(0).normal(0, 2, (64, 64, 3)),
                                    0, 255).astype(np.uint8))
    assert preservation(source, jpeg, region).passed
    assert preservation(source, noisy, region).passed


def test_the_record_is_a_failed_check_with_a_box_and_sizes_must_match():
    source = _scene(*SCENE)
    region = box_mask_image(source.size, REGION)
    record = as_score(preservation(source, _scene(SCENE[0]), region))
    (q,) = record["detail"]["questions"]
    assert record["score"] == 0.0 and q["passed"] is False and q["counted"] == 0.0 and len(q["box"]) == 4
    with pytest.raises(ValueError, match="the source"):
        preservation(source, source.resize((32, 32)), region)
