"""Prompt embeddings computed once per prompt and batch size, and passed to the pipeline instead of the text.

A run asks for the same prompt every round (it changes only with the plan), and a pipeline call re-runs its
text encoders on every call: tokenising, the CLIP encoders, and for SD3 and FLUX a T5 encoder that costs
more than a denoiser step. ``PromptCache.kwargs`` encodes a prompt the way the pipeline call would (same
batch, same guidance, the pipeline's own ``encode_prompt``), keeps the tensors, and returns them as the
call's ``prompt_embeds``-style arguments. The images are the same as with the text (tested).

Families without an entry in ``_ENCODERS`` get the text (PixArt, with its ``max_sequence_length``). The T5
encoders of SD3, FLUX and PixArt read at most the model's ``max_text_tokens`` (FLUX.1 [schnell]: 256).

Usable alone::

    cache = PromptCache()
    kwargs = cache.kwargs(pipe, "sd", "a red circle", "", n=4, cfg=True, device="cpu", max_tokens=77)
    images = pipe(**kwargs, num_inference_steps=20).images
"""

from __future__ import annotations

from collections import OrderedDict
from weakref import WeakKeyDictionary

from limner.tools.generators.families import family as family_info

SIZE = 8  # prompt/batch entries kept per pipeline (a FLUX entry of 4 candidates is ~16 MB in bfloat16)


def _sd(pipe, prompts, negatives, cfg, device, max_tokens) -> dict:
    pe, ne = pipe.encode_prompt(prompts, device, 1, cfg, negatives)
    return {"prompt_embeds": pe, "negative_prompt_embeds": ne}


def _sdxl(pipe, prompts, negatives, cfg, device, max_tokens, **extra) -> dict:
    pe, ne, pooled, npooled = pipe.encode_prompt(prompt=prompts, prompt_2=None, device=device,
                                                 num_images_per_prompt=1, do_classifier_free_guidance=cfg,
                                                 negative_prompt=negatives, **extra)
    return {"prompt_embeds": pe, "negative_prompt_embeds": ne, "pooled_prompt_embeds": pooled,
            "negative_pooled_prompt_embeds": npooled}


def _sd3(pipe, prompts, negatives, cfg, device, max_tokens) -> dict:
    return _sdxl(pipe, prompts, negatives, cfg, device, max_tokens, prompt_3=None, max_sequence_length=max_tokens)


def _flux(pipe, prompts, negatives, cfg, device, max_tokens) -> dict:
    pe, pooled, _text_ids = pipe.encode_prompt(prompt=prompts, prompt_2=None, device=device, num_images_per_prompt=1,
                                               max_sequence_length=max_tokens)
    return {"prompt_embeds": pe, "pooled_prompt_embeds": pooled}


_ENCODERS = {"sd": _sd, "gligen": _sd, "sdxl": _sdxl, "sd3": _sd3, "flux": _flux}


def encode(pipe, family: str, prompts: list[str], device, max_tokens: int, negatives: list[str] | None = None,
           cfg: bool = False) -> dict:
    """Prompt embeddings as ``family``'s pipeline encodes ``prompts``, uncached (regional generation encodes each
    region's phrase with it). Normal tensors, not inference tensors, so that a gradient-enabled caller may use
    them too."""
    import torch

    with torch.inference_mode(False), torch.no_grad():
        made = _ENCODERS[family](pipe, prompts, negatives, cfg, device, max_tokens)
    return {k: v for k, v in made.items() if v is not None}


class PromptCache:
    """Embeddings by (pipeline, prompt, negative prompt, batch size, guidance on/off), the oldest dropped past
    ``size``. ``SHARED`` is the process's cache: pipelines are loaded once per process, so every generator
    of a batch, a chat or a server reuses what an earlier run encoded."""

    def __init__(self, size: int = SIZE):
        self.size = size
        self._by_pipe: WeakKeyDictionary = WeakKeyDictionary()  # pipeline -> OrderedDict; gone with the pipeline
        self.hits = self.misses = 0

    def clear(self) -> None:
        self._by_pipe.clear()

    def kwargs(self, pipe, family: str, prompt: str, negative_prompt: str, n: int, cfg: bool, device,
               max_tokens: int = 77) -> dict:
        """Pipeline-call arguments for ``n`` copies of the prompt: embeddings where the family allows,
        else the text itself."""
        negatives = [negative_prompt] * n if negative_prompt and cfg else None
        if family not in _ENCODERS:
            text = {"prompt": [prompt] * n} | ({"negative_prompt": negatives} if negatives else {})
            if family_info(family).sequence_length_arg:
                text["max_sequence_length"] = max_tokens
            return text
        entries = self._by_pipe.setdefault(pipe, OrderedDict())
        key = (family, prompt, negative_prompt if negatives else "", n, cfg, str(device), max_tokens)
        if key in entries:
            self.hits += 1
            entries.move_to_end(key)
            return dict(entries[key])
        self.misses += 1
        made = encode(pipe, family, [prompt] * n, device, max_tokens, negatives, cfg)
        entries[key] = made
        while len(entries) > self.size:
            entries.popitem(last=False)
        return dict(made)


SHARED = PromptCache()
