"""HPSv2.1 (Wu et al. 2023): an open_clip ViT-H-14 fine-tuned on human preference data.

The checkpoint (``xswu/HPSv2`` file ``HPS_v2.1_compressed.pt``) is an open_clip state dict. It is mapped
key by key into transformers' ``CLIPModel`` built from the LAION CLIP-H config
(``laion/CLIP-ViT-H-14-laion2B-s32B-b79K``, the same architecture) by ``open_clip_to_hf``: this avoids
the ``hpsv2`` package and open-clip-torch (which needs torchvision; see the README). Raw score: the
cosine similarity, as HPSv2 reports it (about 0.20-0.35). Calibration: ``(raw - 0.20) / (0.35 - 0.20)``.
"""

from __future__ import annotations

from pathlib import Path

from limner.tools._loading import missing_weights_message
from limner.tools.verifiers.clip_base import CLIPReward

ARCHITECTURE = "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"
CHECKPOINT = "xswu/HPSv2:HPS_v2.1_compressed.pt"


def _tower(prefix_oc: str, prefix_hf: str, sd: dict, out: dict, layers: int) -> None:
    for i in range(layers):
        oc, hf = f"{prefix_oc}transformer.resblocks.{i}.", f"{prefix_hf}encoder.layers.{i}."
        q, k, v = sd[oc + "attn.in_proj_weight"].chunk(3, dim=0)
        qb, kb, vb = sd[oc + "attn.in_proj_bias"].chunk(3, dim=0)
        out.update({
            hf + "self_attn.q_proj.weight": q, hf + "self_attn.k_proj.weight": k, hf + "self_attn.v_proj.weight": v,
            hf + "self_attn.q_proj.bias": qb, hf + "self_attn.k_proj.bias": kb, hf + "self_attn.v_proj.bias": vb,
            hf + "self_attn.out_proj.weight": sd[oc + "attn.out_proj.weight"],
            hf + "self_attn.out_proj.bias": sd[oc + "attn.out_proj.bias"],
            hf + "layer_norm1.weight": sd[oc + "ln_1.weight"], hf + "layer_norm1.bias": sd[oc + "ln_1.bias"],
            hf + "layer_norm2.weight": sd[oc + "ln_2.weight"], hf + "layer_norm2.bias": sd[oc + "ln_2.bias"],
            hf + "mlp.fc1.weight": sd[oc + "mlp.c_fc.weight"], hf + "mlp.fc1.bias": sd[oc + "mlp.c_fc.bias"],
            hf + "mlp.fc2.weight": sd[oc + "mlp.c_proj.weight"], hf + "mlp.fc2.bias": sd[oc + "mlp.c_proj.bias"],
        })


def open_clip_to_hf(sd: dict, vision_layers: int, text_layers: int) -> dict:
    """An open_clip CLIP state dict (ViT visual tower, transformer text tower) -> ``CLIPModel`` keys."""
    sd = {k.removeprefix("module."): v for k, v in sd.items()}
    out = {
        "vision_model.embeddings.class_embedding": sd["visual.class_embedding"],
        "vision_model.embeddings.patch_embedding.weight": sd["visual.conv1.weight"],
        "vision_model.embeddings.position_embedding.weight": sd["visual.positional_embedding"],
        "vision_model.pre_layrnorm.weight": sd["visual.ln_pre.weight"],
        "vision_model.pre_layrnorm.bias": sd["visual.ln_pre.bias"],
        "vision_model.post_layernorm.weight": sd["visual.ln_post.weight"],
        "vision_model.post_layernorm.bias": sd["visual.ln_post.bias"],
        "visual_projection.weight": sd["visual.proj"].T.contiguous(),
        "text_model.embeddings.token_embedding.weight": sd["token_embedding.weight"],
        "text_model.embeddings.position_embedding.weight": sd["positional_embedding"],
        "text_model.final_layer_norm.weight": sd["ln_final.weight"],
        "text_model.final_layer_norm.bias": sd["ln_final.bias"],
        "text_projection.weight": sd["text_projection"].T.contiguous(),
        "logit_scale": sd["logit_scale"],
    }
    _tower("visual.", "vision_model.", sd, out, vision_layers)
    _tower("", "text_model.", sd, out, text_layers)
    return out


def load_checkpoint(spec: str):
    """``repo_id:filename`` from the hub, or a local file path."""
    import torch

    if Path(spec).is_file():
        path = spec
    else:
        from huggingface_hub import hf_hub_download

        repo, _, filename = spec.partition(":")
        try:
            path = hf_hub_download(repo, filename)
        except Exception as exc:  # noqa: BLE001 - the hub raises many kinds; all mean "no weights"
            raise RuntimeError(missing_weights_message(spec, exc)) from None
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state.get("state_dict", state)


class HPSv2(CLIPReward):
    name = "hpsv2"
    default_model = ARCHITECTURE
    default_calibration = (0.20, 0.35)

    def __init__(self, model: str | None = None, checkpoint: str | None = None, **kwargs):
        super().__init__(model, **kwargs)
        self.checkpoint = checkpoint or CHECKPOINT

    def describe(self) -> dict:
        return {**super().describe(), "checkpoint": self.checkpoint}

    def load_model(self, path: str):
        from transformers import CLIPConfig, CLIPModel

        config = CLIPConfig.from_pretrained(path)
        model = CLIPModel(config)
        state = open_clip_to_hf(load_checkpoint(self.checkpoint), config.vision_config.num_hidden_layers,
                                config.text_config.num_hidden_layers)
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [k for k in missing if "position_ids" not in k]
        if missing or unexpected:
            raise RuntimeError(f"HPSv2 checkpoint {self.checkpoint} does not fit {path}: "
                               f"{len(missing)} missing, {len(unexpected)} unexpected weights")
        return model
