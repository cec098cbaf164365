"""Variation: img2img at a given strength with the loaded generator's weights (``from_pipe``)."""

from __future__ import annotations

from tools.editing.result import EditResult


def variation(generator, image, prompt: str, seeds: list[int], *, strength: float = 0.5,
              negative_prompt: str = "", steps: int | None = None) -> EditResult:
    """One image per seed: ``image`` re-noised to ``strength`` and denoised with ``prompt``."""
    from diffusers import AutoPipelineForImage2Image

    from tools.generators.diffusers_backend import counted_call, seeded

    if not 0.0 < strength <= 1.0:
        raise ValueError(f"strength must be in (0, 1], got {strength}")
    spec = generator.spec
    pipe = getattr(generator, "_img2img_pipe", None)
    if pipe is None:
        pipe = AutoPipelineForImage2Image.from_pipe(generator.pipe)
        pipe.set_progress_bar_config(disable=True)
        generator._img2img_pipe = pipe
    n = len(seeds)
    kwargs = dict(prompt=[prompt] * n, image=[image.convert("RGB")] * n, strength=strength,
                  num_inference_steps=steps or spec.steps, guidance_scale=spec.guidance,
                  generator=seeded(seeds), output_type="pil")
    if negative_prompt and spec.uses_cfg:
        kwargs["negative_prompt"] = [negative_prompt] * n
    images, nfe, seconds = counted_call(pipe, kwargs)
    params = {"editor": "variation", "prompt": prompt, "negative_prompt": negative_prompt, "strength": strength,
              "steps": steps or spec.steps, "guidance": spec.guidance, "seeds": list(seeds)}
    return EditResult(images=images, nfe=nfe, seconds=seconds, params=params)
