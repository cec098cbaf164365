"""Regional generation for MMDiT pipelines (SD3, FLUX): each region's phrase acts only in its box.

In these models image and text tokens attend in one softmax (joint attention). Each region's phrase is
encoded on its own and its tokens are appended to the prompt's; an attention mask then joins them to the
image tokens inside the region's box only (and to themselves), while the whole prompt's tokens and every image
token keep attending as before. This is training-free regional prompting on the joint attention (what RPG
does with cross-attention on UNets, as regional-prompting pipelines do for FLUX). The unconditional half of a
classifier-free-guidance batch (SD3) sees only the negative prompt: the appended tokens are masked out there.

FLUX passes ``joint_attention_kwargs={"attention_mask": ...}`` to its own processors, in its double and single
blocks alike (text tokens first); SD3's processor takes no mask, so ``MaskedJointAttnProcessor`` (SD3's joint
attention with the mask, image tokens first) replaces it for the duration of the block.
"""

from __future__ import annotations

from contextlib import contextmanager

REGION_TOKENS = 32  # T5 tokens a region's phrase is encoded to (a phrase is short)


def token_grid(pipe, family: str, height: int, width: int) -> tuple[int, int]:
    """Rows and columns of image tokens (row-major): latents are patched 2x2 (SD3's patch, FLUX's packing)."""
    patch = 2 if family == "flux" else int(pipe.transformer.config.patch_size)
    factor = pipe.vae_scale_factor * patch
    return height // factor, width // factor


def joint_mask(n_text: int, spans: list[tuple[int, int]], boxes: list, grid: tuple[int, int], *,
               text_first: bool):
    """Boolean (L, L) mask, True = may attend, over ``n_text`` text tokens (whole prompt first, then each
    region's span) and the image tokens of ``grid``."""
    import torch

    from limner.tools.generators.regional import check_box

    rows, cols = grid
    n_img = rows * cols
    ys = (torch.arange(rows, dtype=torch.float32) + 0.5) / rows
    xs = (torch.arange(cols, dtype=torch.float32) + 0.5) / cols
    total = n_text + n_img
    t0, i0 = (0, n_text) if text_first else (n_img, 0)
    mask = torch.ones(total, total, dtype=torch.bool)
    for (lo, hi), box in zip(spans, boxes):
        x0, y0, x1, y1 = check_box(box)
        inside = (((ys >= y0) & (ys <= y1))[:, None] & ((xs >= x0) & (xs <= x1))[None, :]).reshape(-1)
        region = slice(t0 + lo, t0 + hi)
        mask[region, :] = False  # a region's tokens: themselves and the image inside its box
        mask[:, region] = False
        mask[region, region] = True
        mask[i0:i0 + n_img, region] = inside[:, None]
        mask[region, i0:i0 + n_img] = inside[None, :]
    return mask


class MaskedJointAttnProcessor:
    """SD3's joint attention (image tokens, then text tokens, one softmax) with ``attention_mask`` applied."""

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, *args, **kwargs):
        import torch
        import torch.nn.functional as F

        batch = hidden_states.shape[0]

        def heads(x):
            return x.view(batch, -1, attn.heads, x.shape[-1] // attn.heads).transpose(1, 2)

        q, k, v = heads(attn.to_q(hidden_states)), heads(attn.to_k(hidden_states)), heads(attn.to_v(hidden_states))
        if attn.norm_q is not None:
            q = attn.norm_q(q)
        if attn.norm_k is not None:
            k = attn.norm_k(k)
        n_img = hidden_states.shape[1]
        if encoder_hidden_states is not None:
            eq = heads(attn.add_q_proj(encoder_hidden_states))
            ek = heads(attn.add_k_proj(encoder_hidden_states))
            ev = heads(attn.add_v_proj(encoder_hidden_states))
            if attn.norm_added_q is not None:
                eq = attn.norm_added_q(eq)
            if attn.norm_added_k is not None:
                ek = attn.norm_added_k(ek)
            q, k, v = torch.cat([q, eq], dim=2), torch.cat([k, ek], dim=2), torch.cat([v, ev], dim=2)
        mask = attention_mask
        if mask is not None and mask.shape[-1] != k.shape[2]:  # a layer without the text tokens
            mask = mask[..., :n_img, :n_img]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=0.0, is_causal=False)
        out = out.transpose(1, 2).reshape(batch, -1, attn.heads * q.shape[-1]).to(q.dtype)
        if encoder_hidden_states is None:
            return attn.to_out[1](attn.to_out[0](out))
        out, text = out[:, :n_img], out[:, n_img:]
        if not attn.context_pre_only:
            text = attn.to_add_out(text)
        return attn.to_out[1](attn.to_out[0](out)), text


class JointRegions:
    """The regions of one ``with`` block: encoded once, appended to every call's prompt embeddings."""

    def __init__(self, pipe, family: str, regions: list[dict], *, height: int, width: int, cfg: bool,
                 max_tokens: int):
        from limner.tools.generators.prompt_cache import encode

        self.cfg, self.text_first = cfg, family == "flux"  # FLUX puts the text tokens first, SD3 the image's
        self.grid = token_grid(pipe, family, height, width)
        self.boxes = [r["box"] for r in regions]
        tokens = min(REGION_TOKENS, max_tokens)  # each phrase encoded as the pipeline encodes a prompt
        self.embeds = [encode(pipe, family, [r["phrase"]], pipe.transformer.device, tokens)["prompt_embeds"]
                       for r in regions]

    def call_kwargs(self, kwargs: dict, n: int) -> dict:
        """``kwargs`` (a call's prompt embeddings for ``n`` images) with the regions' tokens and the mask."""
        import torch

        base = kwargs["prompt_embeds"]
        extra = torch.cat([e.to(base.dtype).expand(n, -1, -1) for e in self.embeds], dim=1)
        spans, start = [], base.shape[1]
        for e in self.embeds:
            spans.append((start, start + e.shape[1]))
            start += e.shape[1]
        mask = joint_mask(start, spans, self.boxes, self.grid, text_first=self.text_first).to(base.device)
        out = dict(kwargs, prompt_embeds=torch.cat([base, extra], dim=1))
        masks = mask[None].expand(n, -1, -1)
        if self.cfg and "negative_prompt_embeds" in kwargs:  # SD3: the negative half sees no region
            neg = kwargs["negative_prompt_embeds"]
            out["negative_prompt_embeds"] = torch.cat([neg, torch.zeros_like(extra)], dim=1)
            plain = torch.ones_like(mask)
            t0 = self.grid[0] * self.grid[1]
            plain[:, t0 + base.shape[1]:] = False
            plain[t0 + base.shape[1]:, :] = False
            plain[t0 + base.shape[1]:, t0 + base.shape[1]:] = torch.eye(extra.shape[1], dtype=torch.bool)
            masks = torch.cat([plain[None].expand(n, -1, -1), masks])
        out["joint_attention_kwargs"] = {"attention_mask": masks[:, None]}
        return out


@contextmanager
def masked_processors(pipe, family: str):
    """SD3: every joint attention takes the mask for the block; FLUX's processors already do."""
    if family == "flux":
        yield
        return
    saved = pipe.transformer.attn_processors
    pipe.transformer.set_attn_processor(MaskedJointAttnProcessor())
    try:
        yield
    finally:
        pipe.transformer.set_attn_processor(saved)
