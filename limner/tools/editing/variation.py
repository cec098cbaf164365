"""Variation: img2img at a given strength with the loaded generator's weights (``from_pipe``)."""

from __future__ import annotations

from limner.tools.editing.result import EditResult


def variation(generator, image, prompt: str, seeds: list[int], *, strength: float = 0.5,
              negative_prompt: str = "", steps: int | None = None) -> EditResult:
    """One image per seed: ``image`` re-noised to ``strength`` and denoised with ``prompt``."""
    from limner.tools.generators.diffusers_backend import counted_call, seeded
    from limner.tools.generators.families import editing_pipe, text_kwargs

    if not 0.0 < strength <= 1.0:
        raise ValueError(f"strength must be in (0, 1], got {strength}")
    spec = generator.spec
    pipe = editing_pipe(generator, "img2img")  # the family's image-to-image class, sharing the loaded modules
    n = len(seeds)
    kwargs = dict(prompt=[prompt] * n, image=[image.convert("RGB")] * n, strength=strength,
                  num_inference_steps=steps or spec.steps, guidance_scale=spec.guidance,
                  generator=seeded(seeds), output_type="pil", **text_kwargs(spec))
    if negative_prompt and spec.uses_cfg:
        kwargs["negative_prompt"] = [negative_prompt] * n
    images, nfe, seconds = counted_call(pipe, kwargs)
    params = {"editor": "variation", "prompt": prompt, "negative_prompt": negative_prompt, "strength": strength,
              "steps": steps or spec.steps, "guidance": spec.guidance, "seeds": list(seeds)}
    return EditResult(images=images, nfe=nfe, seconds=seconds, params=params)
