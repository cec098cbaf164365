"""Each reward model loads, scores a batch and passes gradients to pixels, on a tiny model of its architecture."""

import pytest
import torch
from PIL import Image

from limner.tools.generators.tiny import build_tiny_clip
from limner.tools.verifiers import make_verifier


@pytest.fixture(scope="module")
def tiny_clip_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-clip")
    model, processor = build_tiny_clip(seed=3)
    model.save_pretrained(folder)
    processor.tokenizer.save_pretrained(folder)
    return folder


def images(n):
    return [Image.new("RGB", (48, 40), (30 * i, 200 - 20 * i, 90)) for i in range(n)]


def hf_to_open_clip(model) -> dict:
    """The inverse of ``open_clip_to_hf``: open_clip's names for a CLIPModel's weights (for the test only)."""
    sd = model.state_dict()
    out = {
        "visual.class_embedding": sd["vision_model.embeddings.class_embedding"],
        "visual.conv1.weight": sd["vision_model.embeddings.patch_embedding.weight"],
        "visual.positional_embedding": sd["vision_model.embeddings.position_embedding.weight"],
        "visual.ln_pre.weight": sd["vision_model.pre_layrnorm.weight"], "visual.ln_pre.bias": sd["vision_model.pre_layrnorm.bias"],
        "visual.ln_post.weight": sd["vision_model.post_layernorm.weight"],
        "visual.ln_post.bias": sd["vision_model.post_layernorm.bias"],
        "visual.proj": sd["visual_projection.weight"].T, "token_embedding.weight": sd["text_model.embeddings.token_embedding.weight"],
        "positional_embedding": sd["text_model.embeddings.position_embedding.weight"],
        "ln_final.weight": sd["text_model.final_layer_norm.weight"], "ln_final.bias": sd["text_model.final_layer_norm.bias"],
        "text_projection": sd["text_projection.weight"].T, "logit_scale": sd["logit_scale"],
    }
    for oc_prefix, hf_prefix, n in (("visual.", "vision_model.", model.config.vision_config.num_hidden_layers),
                                    ("", "text_model.", model.config.text_config.num_hidden_layers)):
        for i in range(n):
            oc, hf = f"{oc_prefix}transformer.resblocks.{i}.", f"{hf_prefix}encoder.layers.{i}."
            out[oc + "attn.in_proj_weight"] = torch.cat([sd[hf + f"self_attn.{p}_proj.weight"] for p in "qkv"])
            out[oc + "attn.in_proj_bias"] = torch.cat([sd[hf + f"self_attn.{p}_proj.bias"] for p in "qkv"])
            for a, b in (("attn.out_proj", "self_attn.out_proj"), ("ln_1", "layer_norm1"), ("ln_2", "layer_norm2"),
                         ("mlp.c_fc", "mlp.fc1"), ("mlp.c_proj", "mlp.fc2")):
                out[oc + a + ".weight"], out[oc + a + ".bias"] = sd[hf + b + ".weight"], sd[hf + b + ".bias"]
    return {"module." + k: v for k, v in out.items()}  # as saved from DDP training


def check(verifier, n=3):
    scores = verifier.score(images(n), ["a red circle", "a blue square", "a photo"][:n])
    assert len(scores) == n and all(0.0 <= s.score <= 1.0 for s in scores)
    assert len({round(s.raw, 6) for s in scores}) > 1  # different images, different raw scores
    pixels = torch.rand(2, 3, 40, 48, requires_grad=True)
    verifier.raw_scores(pixels, ["a red circle", "a blue square"]).sum().backward()
    assert verifier.differentiable and torch.isfinite(pixels.grad).all() and pixels.grad.abs().sum() > 0
    return scores


def test_pickscore_on_tiny_clip(tiny_clip_dir):
    v = make_verifier("pickscore", model=str(tiny_clip_dir))
    scores = check(v)
    cos = v.cosine(torch.stack([torch.full((3, 40, 48), 0.5)]), ["a red circle"])
    assert v.raw_scores(torch.full((1, 3, 40, 48), 0.5), ["a red circle"]).item() == pytest.approx(
        (v.clip.logit_scale.exp() * cos).item(), rel=1e-5)
    assert scores[0].raw != scores[0].score


def test_hpsv2_maps_an_open_clip_checkpoint_exactly(tiny_clip_dir, tmp_path):
    from transformers import CLIPModel

    source = CLIPModel.from_pretrained(tiny_clip_dir)
    torch.manual_seed(0)
    with torch.no_grad():  # make it differ from the architecture folder's weights
        for p in source.parameters():
            p.add_(0.05 * torch.randn_like(p))
    ckpt = tmp_path / "hps.pt"
    torch.save({"state_dict": hf_to_open_clip(source)}, ckpt)
    v = make_verifier("hpsv2", model=str(tiny_clip_dir), checkpoint=str(ckpt))
    check(v)
    pixels = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        expected = torch.nn.functional.cosine_similarity(
            source.get_image_features(pixel_values=v.preprocess(pixels)).pooler_output,
            source.get_text_features(**v._tokenizer(["a", "b"], padding=True, return_tensors="pt")).pooler_output)
        assert torch.allclose(v.cosine(pixels, ["a", "b"]), expected, atol=1e-5)


def test_aesthetic_predictor_on_tiny_clip(tiny_clip_dir, tmp_path):
    from limner.tools.verifiers.aesthetic import make_mlp

    torch.manual_seed(1)
    mlp_path = tmp_path / "mlp.pth"
    torch.save(make_mlp(32).state_dict(), mlp_path)
    v = make_verifier("aesthetic", model=str(tiny_clip_dir), mlp=str(mlp_path))
    check(v)


@pytest.mark.parametrize("name", ["pickscore", "hpsv2", "aesthetic"])
def test_missing_weights_offline_is_one_clear_line(name):
    v = make_verifier(name)
    with pytest.raises(RuntimeError) as info:
        v.score(images(1), ["a red circle"])
    message = str(info.value)
    assert "\n" not in message and "HF_HUB_OFFLINE=1" in message
    assert v.describe()["model"] in message or "HPS" in message or "/" in message
