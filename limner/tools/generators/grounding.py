"""GLIGEN's grounding inputs for pipelines other than diffusers' GLIGEN pipeline (inpainting, Limner's loop).

A gated UNet (``attention_type="gated"``) takes ``cross_attention_kwargs={"gligen": {boxes, positive_embeddings,
masks}}`` from any pipeline that passes cross-attention kwargs through; this builds that dict exactly as
``StableDiffusionGLIGENPipeline`` does (pooled phrase embeddings from the pipeline's own text encoder, 30 slots,
the unconditional half of a classifier-free-guidance batch without grounding), so a repair can place what it
paints. Generation itself goes through diffusers' GLIGEN pipeline (``DiffusersGenerator.grounded``).
"""

from __future__ import annotations

MAX_OBJS = 30  # as diffusers' GLIGEN pipeline


def enable_fusers(unet, enabled: bool = True) -> None:
    """Open (or close) every gated self-attention layer. GLIGEN's pipeline closes them for the steps after its
    scheduled-sampling share and leaves them closed after the call; anything sharing the UNet reopens them."""
    from diffusers.models.attention import GatedSelfAttentionDense

    for module in unet.modules():
        if isinstance(module, GatedSelfAttentionDense):
            module.enabled = enabled


def gligen_inputs(pipe, regions: list[dict], batch: int, cfg: bool) -> dict:
    """``{"gligen": {...}}`` for ``batch`` samples grounded on ``regions`` (phrase, box as fractions)."""
    import torch

    regions = regions[:MAX_OBJS]
    device, dtype = pipe.unet.device, pipe.text_encoder.dtype
    tokens = pipe.tokenizer([r["phrase"] for r in regions], padding=True, return_tensors="pt").to(device)
    with torch.no_grad():
        pooled = pipe.text_encoder(**tokens).pooler_output
    dim = pipe.unet.config.cross_attention_dim
    boxes = torch.zeros(MAX_OBJS, 4, device=device, dtype=dtype)
    boxes[: len(regions)] = torch.tensor([[float(v) for v in r["box"]] for r in regions], device=device, dtype=dtype)
    embeds = torch.zeros(MAX_OBJS, dim, device=device, dtype=dtype)
    embeds[: len(regions)] = pooled
    masks = torch.zeros(MAX_OBJS, device=device, dtype=dtype)
    masks[: len(regions)] = 1
    boxes, embeds, masks = (t.unsqueeze(0).expand(batch, *t.shape).clone() for t in (boxes, embeds, masks))
    if cfg:  # the pipelines put the unconditional half first; it sees no grounding
        boxes, embeds, masks = torch.cat([boxes] * 2), torch.cat([embeds] * 2), torch.cat([masks] * 2)
        masks[:batch] = 0
    return {"gligen": {"boxes": boxes, "positive_embeddings": embeds, "masks": masks}}
