"""Regional generation for UNet pipelines (SD 1.x/2.x, SDXL, shapes-tiny): each region's phrase acts only in its box.

Every cross-attention processor of the UNet is wrapped for the duration of a ``with`` block. Inside a
layer, the image tokens attend to the whole prompt (``base``), to each region's phrase and to the
background prompt; the outputs are blended per token::

    out = base_ratio * base + (1 - base_ratio) * (sum_r m_r * region_r + (1 - sum_r m_r) * background)

where ``m_r`` is region r's soft-edged box mask at the layer's resolution (RPG's regional attention with a
base ratio; LMD's background prompt). The weights sum to one, so the blend commutes with the attention
output projection and bias. Only the conditional half of a classifier-free-guidance batch is regional;
the unconditional half is left as it is. The original processors are restored when the block ends,
also after an error. Self-attention is untouched.

Usable alone::

    with regional_attention(gen.pipe, "sd", [{"phrase": "a red circle", "box": [0, .2, .5, .8]}],
                            base_ratio=0.3, cfg=True):
        images = gen.pipe("a red circle left of a blue square").images
"""

from __future__ import annotations

import math
from contextlib import contextmanager

from limner.tools.generators.families import family as family_info

FEATHER = 0.06  # width of a mask's soft edge, as a fraction of the image side


def check_box(box) -> tuple[float, float, float, float]:
    """A normalised ``[x0, y0, x1, y1]`` inside the canvas with positive size, or ``ValueError``."""
    try:
        x0, y0, x1, y1 = (float(v) for v in box)
    except (TypeError, ValueError):
        raise ValueError(f"a box is four numbers [x0, y0, x1, y1], got {box!r}") from None
    if not all(0.0 <= v <= 1.0 for v in (x0, y0, x1, y1)):
        raise ValueError(f"box {[x0, y0, x1, y1]} is outside the canvas: coordinates are fractions in [0, 1]")
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"box {[x0, y0, x1, y1]} has no area: x1 must exceed x0 and y1 exceed y0")
    return x0, y0, x1, y1


def box_mask(box, height: int, width: int, feather: float = FEATHER):
    """Soft mask (height, width) in [0, 1]: 1 inside the box, falling linearly to 0 over ``feather``."""
    import torch

    x0, y0, x1, y1 = check_box(box)
    ys = (torch.arange(height, dtype=torch.float32) + 0.5) / height
    xs = (torch.arange(width, dtype=torch.float32) + 0.5) / width
    f = max(feather, 1e-6)

    def ramp(c, lo, hi):  # distance inside the interval, scaled: 0.5 at the edge
        return ((torch.minimum(c - lo, hi - c) / f) + 0.5).clamp(0, 1)

    return ramp(ys, y0, y1)[:, None] * ramp(xs, x0, x1)[None, :]


class _Shared:
    """What every wrapped processor of one ``with`` block needs: embeddings and masks per resolution."""

    def __init__(self, region_embeds, background_embeds, boxes, base_ratio: float, cfg: bool, aspect: float, feather):
        self.region_embeds = region_embeds  # (R, L, D)
        self.background_embeds = background_embeds  # (1, L, D) or None (then the base prompt)
        self.boxes = boxes
        self.base_ratio = base_ratio
        self.cfg = cfg
        self.aspect = aspect
        self.feather = feather
        self._masks: dict[int, tuple] = {}
        self.calls = 0

    def masks(self, tokens: int, device, dtype):
        """``(m, rest)``: region masks (R, tokens, 1), normalised where they overlap, and the background weight."""
        if tokens not in self._masks:
            import torch

            h = max(1, round(math.sqrt(tokens * self.aspect)))
            w = tokens // h
            if h * w != tokens:
                raise ValueError(f"cannot map {tokens} attention tokens onto an image of aspect {self.aspect:.3f}")
            m = torch.stack([box_mask(b, h, w, self.feather).flatten() for b in self.boxes])
            total = m.sum(0, keepdim=True)
            m = m / total.clamp(min=1.0)
            rest = (1 - m.sum(0)).clamp(min=0.0)
            self._masks[tokens] = (m[..., None], rest[:, None])
        m, rest = self._masks[tokens]
        return m.to(device, dtype), rest.to(device, dtype)


class RegionalAttnProcessor:
    """Wraps a cross-attention processor; reuses it for every prompt so norms and projections stay its own."""

    def __init__(self, inner, shared: _Shared):
        self.inner = inner
        self.shared = shared

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, *args, **kwargs):
        base = self.inner(attn, hidden_states, encoder_hidden_states, attention_mask, temb, *args, **kwargs)
        if encoder_hidden_states is None or hidden_states.ndim != 3:
            return base
        s = self.shared
        s.calls += 1
        batch, tokens = hidden_states.shape[:2]
        start = batch // 2 if s.cfg and batch % 2 == 0 else 0  # CFG batches are [uncond..., cond...]
        hs = hidden_states[start:]
        n = hs.shape[0]

        def attend(embeds):
            e = embeds.to(encoder_hidden_states.dtype).expand(n, *embeds.shape[-2:])
            return self.inner(attn, hs, e, None, temb[start:] if temb is not None else None, *args, **kwargs)

        m, rest = s.masks(tokens, hs.device, hs.dtype)
        regional = sum(m[r] * attend(s.region_embeds[r : r + 1]) for r in range(m.shape[0]))
        background = attend(s.background_embeds) if s.background_embeds is not None else base[start:]
        mixed = s.base_ratio * base[start:] + (1 - s.base_ratio) * (regional + rest * background)
        if start == 0:
            return mixed
        import torch

        return torch.cat([base[:start], mixed])


def encode_phrases(pipe, family: str, phrases: list[str]):
    """Text embeddings (N, L, D) of each phrase, as the pipeline encodes a prompt for cross-attention."""
    import torch

    device = pipe.unet.device
    with torch.no_grad():
        if family_info(family).pooled_text:
            return pipe.encode_prompt(prompt=phrases, device=device, num_images_per_prompt=1,
                                      do_classifier_free_guidance=False)[0]
        return pipe.encode_prompt(phrases, device, 1, False)[0]


@contextmanager
def regional_attention(pipe, family: str, regions: list[dict], *, base_ratio: float = 0.3, background: str | None = None,
                       cfg: bool = True, aspect: float = 1.0, feather: float = FEATHER):
    """Within the block, every UNet call of ``pipe`` is regional; the processors are restored afterwards.

    ``regions``: ``[{"phrase": str, "box": [x0, y0, x1, y1]}, ...]`` with boxes as fractions of the image.
    ``background``: a prompt for the area outside every box (None: the whole prompt acts there).
    ``cfg``: whether the calls run classifier-free guidance (batches of [uncond, cond]).
    ``aspect``: the image's height / width (attention tokens are mapped back onto that grid).
    Yields the shared state, whose ``calls`` counts regional cross-attention calls (0 means nothing was regional).
    """
    if family_info(family).lacks("regional"):
        raise ValueError(family_info(family).lacks("regional"))
    if not regions:
        raise ValueError("regional attention needs at least one region")
    if not 0.0 <= base_ratio <= 1.0:
        raise ValueError(f"base_ratio must be in [0, 1], got {base_ratio}")
    boxes = [check_box(r["box"]) for r in regions]
    unet = pipe.unet
    region_embeds = encode_phrases(pipe, family, [r["phrase"] for r in regions])
    background_embeds = encode_phrases(pipe, family, [background]) if background is not None else None
    shared = _Shared(region_embeds, background_embeds, boxes, base_ratio, cfg, aspect, feather)
    original = unet.attn_processors
    wrapped = {name: RegionalAttnProcessor(p, shared) if name.endswith("attn2.processor") else p
               for name, p in original.items()}
    unet.set_attn_processor(wrapped)
    try:
        yield shared
    finally:
        unet.set_attn_processor(original)
