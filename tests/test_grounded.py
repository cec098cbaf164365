"""Grounded generation (GLIGEN) with a tiny random gated UNet of the real architecture, as a user has it: a
diffusers folder in a Hugging Face cache under the public checkpoint's repo id, loaded offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tiny_pipelines import place_in_hf_cache, save_tiny_gligen, save_tiny_gligen_inpaint

pytestmark = pytest.mark.slow  # diffusion end to end

REPO = "masterful/gligen-1-4-generation-text-box"
INPAINT_REPO = "masterful/gligen-1-4-inpainting-text-box"
REGIONS = [{"phrase": "a red circle", "box": [0.05, 0.3, 0.45, 0.7]},
           {"phrase": "a blue square", "box": [0.55, 0.3, 0.95, 0.7]}]


@pytest.fixture(scope="module")
def gligen_cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("gligen")
    place_in_hf_cache(save_tiny_gligen(root / "tiny-gligen"), root / "hf", REPO)
    place_in_hf_cache(save_tiny_gligen_inpaint(root / "tiny-gligen-inpaint"), root / "hf", INPAINT_REPO)
    return root / "hf"


@pytest.fixture
def gen(gligen_cache, monkeypatch):
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(gligen_cache))
    monkeypatch.setenv("HF_HUB_CACHE", str(gligen_cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from limner.tools.generators import resolve_model
    from limner.tools.generators.diffusers_backend import DiffusersGenerator

    return DiffusersGenerator(resolve_model("gligen").with_overrides(steps=3, width=64, height=64), device="cpu")


def test_the_gligen_checkpoint_is_a_grounded_family_read_from_its_weights(gen):
    assert gen.spec.family == "gligen" and gen.spec.caps.grounded and not gen.spec.caps.lacks("grounded")
    assert type(gen.loaded).__name__ == "StableDiffusionGLIGENPipeline"
    assert type(gen.pipe).__name__ == "StableDiffusionPipeline" and gen.pipe.unet is gen.loaded.unet  # from_pipe


def test_grounded_generation_takes_the_boxes_counts_every_pass_and_repeats_exactly(gen):
    with gen.grounded(REGIONS):
        a = gen.generate("a red circle and a blue square", seeds=[1, 2])
        again = gen.generate("a red circle and a blue square", seeds=[1, 2])
    plain = gen.generate("a red circle and a blue square", seeds=[1, 2])
    assert a.nfe == 2 * 3 * 2 == plain.nfe  # 2 samples x 3 steps x CFG
    assert all((np.asarray(x) == np.asarray(y)).all() for x, y in zip(a.images, again.images))
    assert any((np.asarray(x) != np.asarray(y)).any() for x, y in zip(a.images, plain.images))
    moved = [dict(REGIONS[0], box=[0.55, 0.05, 0.95, 0.45]), REGIONS[1]]
    with gen.grounded(moved):
        b = gen.generate("a red circle and a blue square", seeds=[1, 2])
    assert any((np.asarray(x) != np.asarray(y)).any() for x, y in zip(a.images, b.images))


def test_grounding_is_refused_with_the_reason_where_the_family_has_none():
    from limner.tools.generators import resolve_model
    from limner.tools.generators.diffusers_backend import DiffusersGenerator

    gen = DiffusersGenerator(resolve_model("tiny-random-sd"), device="cpu")
    with pytest.raises(ValueError, match="not trained to take boxes"):
        with gen.grounded(REGIONS):
            pass


def test_the_agent_generates_grounded_rounds_from_the_plans_boxes_and_they_reproduce(gen, tmp_path):
    """The default policy (``layout: auto``) on a grounded model: every round takes the plan's boxes; each
    candidate records them and regenerates bit for bit; NFE is exact."""
    from PIL import Image

    from helpers import manifest, policy_file
    from limner import run
    from limner.agent.reproduce import regenerate

    policy = policy_file(tmp_path, max_rounds=1, candidates_per_round=2, layout="auto",
                         generation={"steps": 3, "width": 64, "height": 64})
    result = run("a red circle left of a blue square", model="gligen", seed=1, out=tmp_path, policy=policy)
    m = manifest(result)
    assert m["model"]["family"] == "gligen" and result.nfe == 2 * 3 * 2
    (rnd,) = m["rounds"]
    assert rnd["grounded"] and not rnd["regional"] and rnd["layout"].startswith("grounded generation: 2 boxes")
    for c in m["candidates"]:
        boxes = [r["box"] for r in c["grounded"]["regions"]]
        assert [r["phrase"] for r in c["grounded"]["regions"]] == ["a red circle", "a blue square"]
        assert boxes[0][2] <= boxes[1][0]  # left of
        again = regenerate(c, result.run_dir)
        with Image.open(Path(result.run_dir) / c["path"]) as saved:
            assert (np.asarray(again) == np.asarray(saved.convert("RGB"))).all()


def test_layout_mode_regional_makes_regional_rounds_on_a_grounded_checkpoint(gen, tmp_path):
    from helpers import manifest, policy_file
    from limner import run

    policy = policy_file(tmp_path, max_rounds=1, candidates_per_round=1, layout=True, layout_mode="regional",
                         generation={"steps": 3, "width": 64, "height": 64})
    m = manifest(run("a red circle left of a blue square", model="gligen", seed=1, out=tmp_path, policy=policy))
    (rnd,) = m["rounds"]
    assert rnd["regional"] and not rnd["grounded"] and rnd["layout"].startswith("regional generation: 2 regions")
    assert "regional" in m["candidates"][0] and "grounded" not in m["candidates"][0]


def test_a_model_that_ignores_boxes_is_not_given_the_layout_under_auto(tmp_path):
    from helpers import manifest, policy_file
    from limner import run

    policy = policy_file(tmp_path, max_rounds=1, candidates_per_round=1, layout="auto")
    m = manifest(run("a red circle left of a blue square", model="tiny-random-sd", seed=1, out=tmp_path,
                     policy=policy))
    assert not m["rounds"][0]["grounded"] and not m["rounds"][0]["regional"] and m["rounds"][0]["layout"] is None


def test_grounded_inpainting_tells_the_model_the_box_and_repeats_exactly(gen):
    """A repair on a grounded model passes the phrase and box to the gated layers (GLIGEN's inputs, built as
    its pipeline builds them): the result differs from ungrounded inpainting, keeps the outside, repeats."""
    from PIL import Image

    from limner.tools.editing import box_mask_image, inpaint

    image = Image.new("RGB", (64, 64), (250, 250, 250))
    mask = box_mask_image(image.size, [0.1, 0.1, 0.5, 0.5])
    region = [{"phrase": "a green circle", "box": [0.1, 0.1, 0.5, 0.5]}]
    a = inpaint(gen, image, mask, "a green circle", [3, 4], grounding=region)
    b = inpaint(gen, image, mask, "a green circle", [3, 4], grounding=region)
    plain = inpaint(gen, image, mask, "a green circle", [3, 4])
    assert a.params["grounding"] == region and a.nfe == plain.nfe == 2 * 3 * 2
    assert all((np.asarray(x) == np.asarray(y)).all() for x, y in zip(a.images, b.images))
    assert any((np.asarray(x) != np.asarray(y)).any() for x, y in zip(a.images, plain.images))
    outside = np.asarray(a.images[0])[48:, 48:]
    assert (outside == 250).all()


@pytest.fixture
def inpainter(gen):  # the same offline cache as ``gen``
    from limner.tools.generators import resolve_model
    from limner.tools.generators.diffusers_backend import DiffusersGenerator

    return DiffusersGenerator(resolve_model("gligen-inpaint").with_overrides(steps=3, width=64, height=64),
                              device="cpu")


def test_the_gligen_inpainting_checkpoint_is_told_apart_by_its_unet_and_only_edits(inpainter):
    spec = inpainter.spec
    assert spec.family == "gligen-inpaint" and spec.caps.grounded and type(inpainter.loaded).__name__ == \
        "StableDiffusionGLIGENPipeline" and inpainter.loaded.unet.config.in_channels == 9
    with pytest.raises(ValueError, match="edits images by painting phrases into boxes; it does not draw"):
        inpainter.generate("a red circle", seeds=[1])


def test_gligen_inpainting_paints_the_box_keeps_the_rest_and_repeats_exactly(inpainter):
    from PIL import Image

    from limner.tools.editing import box_mask_image, inpaint

    image = Image.new("RGB", (64, 64), (250, 250, 250))
    mask = box_mask_image(image.size, [0.1, 0.1, 0.5, 0.5])
    region = [{"phrase": "a green circle", "box": [0.1, 0.1, 0.5, 0.5]}]
    a = inpaint(inpainter, image, mask, "a green circle", [3, 4], grounding=region)
    b = inpaint(inpainter, image, mask, "a green circle", [3, 4], grounding=region)
    plain = inpaint(inpainter, image, mask, "a green circle", [3, 4])  # the prompt into the mask's box
    assert a.params["pipeline"] == "StableDiffusionGLIGENPipeline" and a.params["grounding"] == region
    assert plain.params["grounding"][0]["phrase"] == "a green circle" and a.nfe == plain.nfe == 2 * 3 * 2
    assert all((np.asarray(x) == np.asarray(y)).all() for x, y in zip(a.images, b.images))
    assert (np.asarray(a.images[0]) != np.asarray(a.images[1])).any()  # each seed its own noise
    inside, outside = np.asarray(a.images[0])[8:30, 8:30], np.asarray(a.images[0])[40:, 40:]
    assert (outside == 250).all() and (inside != 250).any()


def test_limner_edit_with_the_gligen_inpainting_checkpoint_repaints_the_box_and_reproduces(gen, tmp_path):
    import json

    from PIL import Image
    from typer.testing import CliRunner

    from limner.agent.cli import app
    from limner.agent.reproduce import regenerate

    image = tmp_path / "in.png"
    Image.new("RGB", (64, 64), (250, 250, 250)).save(image)
    policy = tmp_path / "p.yaml"
    policy.write_text("name: p\nplanner: rules\nthreshold: 1.0\nmax_rounds: 1\ncandidates_per_round: 2\n"
                      "budgets: {nfe: 1000}\nverifiers: [{name: clipscore}]\nactions: [repair]\n"
                      "generation: {steps: 3}\n")
    out = CliRunner().invoke(app, ["edit", str(image), "a red circle", "--box", "0.1,0.1,0.5,0.5", "--model",
                                   "gligen-inpaint", "--policy", str(policy), "--seed", "2", "-o",
                                   str(tmp_path / "runs"), "--json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.output[out.output.index("{"):])
    m = json.loads(open(result["manifest_path"]).read())
    assert m["model"]["family"] == "gligen-inpaint" and m["rounds"][0]["nfe"] == 2 * 3 * 2
    for c in m["candidates"]:
        assert c["edit"]["pipeline"] == "StableDiffusionGLIGENPipeline" and c["edit"]["box"] == [0.1, 0.1, 0.5, 0.5]
        with Image.open(f"{result['run_dir']}/{c['path']}") as saved:
            assert (np.asarray(regenerate(c, result["run_dir"])) == np.asarray(saved.convert("RGB"))).all()
    refused = CliRunner().invoke(app, ["run", "a red circle", "--model", "gligen-inpaint"])
    assert refused.exit_code == 2 and "does not draw from text alone" in refused.output


def test_grounded_rounds_cache_prompts_and_split_on_out_of_memory_as_plain_ones_do(gen, monkeypatch):
    """A grounded call's prompt is encoded once and gives the images of GLIGEN's own text call; a batch that runs
    out of memory is split, and each part is the images of a call of its candidates alone."""
    import torch

    from limner.tools.generators.memory import forget
    from limner.tools.generators.noise import gaussian_spec, stack
    from limner.tools.generators.prompt_cache import PromptCache

    prompt, seeds = "a red circle and a blue square", [5, 6]
    gen.prompts = PromptCache()
    with gen.grounded(REGIONS, beta=0.5):
        first = gen.generate(prompt, seeds)
        second = gen.generate(prompt, seeds)
    assert gen.prompts.misses == 1 and gen.prompts.hits == 1
    spec = gen.spec
    latents = stack([gaussian_spec(s) for s in seeds], gen.latent_shape(), None)
    direct = gen.loaded(prompt=[prompt] * 2, gligen_phrases=[r["phrase"] for r in REGIONS],
                        gligen_boxes=[r["box"] for r in REGIONS], gligen_scheduled_sampling_beta=0.5, latents=latents,
                        num_inference_steps=spec.steps, guidance_scale=spec.guidance, height=spec.height,
                        width=spec.width).images
    for a, b, c in zip(first.images, second.images, direct):
        assert (np.asarray(a) == np.asarray(b)).all() and (np.asarray(a) == np.asarray(c)).all()

    unet, forward = gen.loaded.unet, gen.loaded.unet.forward

    def limited(sample, *args, **kwargs):  # one candidate (two rows under CFG) at a time
        if sample.shape[0] > 2:
            exc = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            exc.limner_nfe = 0
            raise exc
        return forward(sample, *args, **kwargs)

    forget()
    monkeypatch.setattr(unet, "forward", limited)
    try:
        with gen.grounded(REGIONS, beta=0.5):
            split = gen.generate(prompt, seeds)
    finally:
        forget()
    assert split.chunks == [(0, 1), (1, 2)] and split.nfe == 2 * 3 * 2 + split.oom_lost_nfe
    with gen.grounded(REGIONS, beta=0.5):  # each chunk is the call of its own candidates (as the manifest says)
        alone = gen.generate(prompt, seeds[:1]).images + gen.generate(prompt, seeds[1:]).images
    assert all((np.asarray(a) == np.asarray(b)).all() for a, b in zip(split.images, alone))


def _chat_turn_on_gligen(tmp_path, words: str):
    """A chat on GLIGEN and CLIP under their repo ids (offline): the plan approved, one round, then ``words``;
    the result and that turn."""
    import huggingface_hub.constants as hub_constants

    from limner.agent.runner import answer, run
    from limner.tools.generators.tiny import ensure_tiny_clip

    place_in_hf_cache(ensure_tiny_clip(tmp_path / "clip"), Path(hub_constants.HF_HUB_CACHE),
                      "openai/clip-vit-large-patch14")
    r = run("a red circle left of a blue square", model="gligen", seed=1, out=tmp_path / "runs", interactive=True,
            policy="chat", steps=3, width=64, height=64)
    r = answer(r.run_id, "yes")
    r = answer(r.run_id, words)
    return r, r.question["history"][-1]


@pytest.mark.parametrize("words, kind, prompt", [("make the circle green", "recolor", "a green circle"),
                                                    ("move the circle to the top", "move", "a red circle")])
def test_a_chat_edit_on_gligen_is_grounded_in_the_object_s_box_inside_a_wider_mask_and_reproduces(
        gen, tmp_path, words, kind, prompt):
    """Issue 35's edits on a grounded family as a user has it (GLIGEN and CLIP under their repo ids, offline):
    a recolour is told the object's own box, a move its new box (its old one erased first), each painted in a
    mask a margin wider (told a mask it had to fill edge to edge, the embedded model painted patches of other
    colours), and each edited candidate regenerates bit for bit from its manifest."""
    from PIL import Image

    from limner.agent.reproduce import regenerate
    from limner.agent.runner import answer

    r, turn = _chat_turn_on_gligen(tmp_path, words)
    assert (turn["action"], turn["kind"]) == ("edit", kind) and turn["made"]
    for c in (c for c in r.candidates if c.id in turn["made"]):
        edit = c.edit
        (ground,) = [g["box"] for g in edit["grounding"]]
        mask = edit["box"]
        assert edit["prompt"] == prompt == edit["grounding"][0]["phrase"] and edit["parent"] == turn["from"]
        assert edit["negative_prompt"] == ""  # gligen's alias says no edit_avoid: the plan's negative prompt
        if kind == "move":
            assert "erase" in edit and ground[1] < 0.3
        assert mask[0] < ground[0] and mask[1] < ground[1] and mask[2] > ground[2] and mask[3] > ground[3]
        with Image.open(Path(r.run_dir) / c.path) as saved:
            assert (np.asarray(regenerate(c.model_dump(), r.run_dir)) == np.asarray(saved.convert("RGB"))).all()
    answer(r.run_id, "cancel")


def test_a_chat_restyle_on_gligen_records_that_its_outlines_were_not_checked(gen, tmp_path):
    """GLIGEN's alias says no ``restyle_structure`` (the check is calibrated on the shapes world alone): a
    restyle's candidates are variations of the image the person chose, carry no structure score, and their
    target says what was not checked; the composition check is never a pass on nothing."""
    from limner.agent._graph.nodes.edit import NO_STRUCTURE
    from limner.agent.runner import answer

    r, turn = _chat_turn_on_gligen(tmp_path, "make it look like a watercolor painting")
    assert (turn["action"], turn["kind"]) == ("edit", "restyle") and turn["made"]
    for c in (c for c in r.candidates if c.id in turn["made"]):
        assert c.action == "variation" and c.edit["parent"] == turn["from"] and "structure" not in c.scores
        assert c.edit["target"]["unchecked"] == NO_STRUCTURE
        kept = c.edit["target"]["expect"]["kept"]
        (asked,) = c.scores["intent"].detail["questions"]
        assert asked["counted"] is None or kept  # with no object known to keep, unanswered
        assert not (asked["counted"] is None and asked["passed"])
    answer(r.run_id, "cancel")
