"""The embedded model takes boxes: ``shapes-tiny`` is a GLIGEN folder (gated layers trained here by
``training/train_grounded.py``) whose plain calls are the base model's, and whose grounded calls put each
object where its box says. The exact parser reads the images."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

pytestmark = pytest.mark.slow  # diffusion end to end


@pytest.fixture
def gen(shapes_defaults):
    from limner.tools.generators import resolve_model
    from limner.tools.generators.diffusers_backend import DiffusersGenerator

    return DiffusersGenerator(resolve_model("shapes-tiny"), device="cpu")


def test_the_embedded_model_is_grounded_by_what_its_folder_is(gen):
    assert gen.spec.family == "gligen" and not gen.spec.caps.lacks("grounded")
    assert type(gen.loaded).__name__ == "StableDiffusionGLIGENPipeline"
    assert type(gen.pipe).__name__ == "StableDiffusionPipeline" and gen.pipe.unet is gen.loaded.unet


def test_a_plain_call_never_runs_the_gated_layers(gen):
    """Ungrounded generation is the base model's: the same UNet without its gated layers gives the same output."""
    import torch
    from diffusers import UNet2DConditionModel

    unet = gen.pipe.unet
    config = {k: v for k, v in unet.config.items() if not k.startswith("_") and k != "attention_type"}
    base = UNet2DConditionModel.from_config(config)
    missing, unexpected = base.load_state_dict(unet.state_dict(), strict=False)
    assert not missing and unexpected and all(".fuser." in k or k.startswith("position_net.") for k in unexpected)
    torch.manual_seed(0)
    x, cond = torch.randn(2, 4, 16, 16), torch.randn(2, 16, unet.config.cross_attention_dim)
    with torch.no_grad():
        assert torch.equal(unet(x, 500, encoder_hidden_states=cond).sample,
                           base(x, 500, encoder_hidden_states=cond).sample)


def _where(image, shape: str, color: str):
    from limner.tools.shapes.parser import parse

    return [o["centroid"] for o in parse(image) if o["shape"] == shape and o["color"] == color]


def _inside(point, box, canvas: int = 64) -> bool:
    return box[0] * canvas <= point[0] <= box[2] * canvas and box[1] * canvas <= point[1] <= box[3] * canvas


def test_moving_a_box_moves_its_object(gen):
    """The same prompt and noise, the two boxes swapped: each object follows its box (most seeds)."""
    left, right = [0.05, 0.3, 0.45, 0.7], [0.55, 0.3, 0.95, 0.7]
    prompt = "a photo of a red circle and a blue square"
    followed = 0
    seeds = list(range(6))
    for circle, square in ((left, right), (right, left)):
        regions = [{"phrase": "a red circle", "box": circle}, {"phrase": "a blue square", "box": square}]
        with gen.grounded(regions, beta=gen.spec.grounding_beta):
            images = gen.generate(prompt, seeds).images
        for im in images:
            followed += any(_inside(p, circle) for p in _where(im, "circle", "red")) and \
                any(_inside(p, square) for p in _where(im, "square", "blue"))
    assert followed >= 8  # of 12: both objects inside their boxes


def test_grounding_beats_the_prompt_alone_on_held_out_scenes(gen):
    from limner.bench.grounding import heldout_scenes, measure

    scenes = heldout_scenes(12, seed=1)
    grounded = measure("shapes-tiny", "grounded", scenes)
    prompt = measure("shapes-tiny", "prompt", scenes)
    assert grounded["nfe"] == prompt["nfe"] == 12 * 20 * 2  # the same cost: 20 steps with CFG each
    assert grounded["obeyed"] >= 0.6 and grounded["obeyed"] >= prompt["obeyed"] + 0.35


def test_a_grounded_repair_inserts_the_missing_object_in_its_box(gen):
    from limner.tools.editing import box_mask_image, inpaint
    from limner.tools.shapes.world import Obj, Scene, render_pil

    image = render_pil(Scene([Obj("circle", "red", 8, 22, 18)]))  # the blue square is missing
    box = [0.55, 0.28, 0.95, 0.72]
    region = [{"phrase": "a blue square", "box": box}]
    result = inpaint(gen, image, box_mask_image(image.size, box), "a blue square", list(range(4)), grounding=region)
    assert result.params["grounding"] == region
    found = sum(any(_inside(p, box) for p in _where(im, "square", "blue")) for im in result.images)
    kept = sum(bool(_where(im, "circle", "red")) for im in result.images)
    assert found >= 3 and kept == 4


def test_the_readme_layout_prompt_passes_with_a_grounded_round(shapes_defaults, tmp_path, monkeypatch):
    """``limner run "two red circles left of a blue square" --seed 3``: the default policy generates from the
    plan's boxes on the embedded model, says so in the manifest and the report, and passes every check."""
    from limner.agent.cli import app

    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(app, ["run", "two red circles left of a blue square", "--seed", "3",
                                   "--out", str(tmp_path / "runs")])
    assert out.exit_code == 0, out.output
    (run_dir,) = (tmp_path / "runs").iterdir()
    m = json.loads((run_dir / "manifest.json").read_text())
    first = m["rounds"][0]
    assert first["grounded"] and first["layout"].startswith("grounded generation: 3 boxes from the plan's layout")
    assert m["status"] == "passed"
    assert "grounded generation: 3 boxes" in out.output  # the progress says how the round was made
    best = next(c for c in m["candidates"] if c["id"] == m["best"]["id"])
    assert [r["phrase"] for r in best["grounded"]["regions"]] == ["a red circle", "a red circle", "a blue square"]
    assert all(q["passed"] for q in best["scores"]["questions"]["detail"]["questions"])
    assert "grounded generation: 3 boxes" in (run_dir / "report.html").read_text()
    assert np.isfinite(m["best"]["score"])
