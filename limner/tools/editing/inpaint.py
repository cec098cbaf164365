"""Region repair: inpaint inside a mask with the loaded generator's weights (``from_pipe``), keep the rest.

Diffusers' inpainting pipeline for an ordinary (4-channel) UNet blends the known latents back in at
every step outside the mask; the decoded result is then composited onto the original through the softened
mask, so pixels outside the softened edge are the original's, bit for bit.
"""

from __future__ import annotations

from limner.tools.editing.masks import composite, soften
from limner.tools.editing.result import EditResult

FEATHER_PX = 2


def inpaint(generator, image, mask, prompt: str, seeds: list[int], *, negative_prompt: str = "",
            strength: float = 1.0, feather: int = FEATHER_PX, steps: int | None = None,
            grounding: list[dict] | None = None, guidance: float | None = None) -> EditResult:
    """One image per seed: ``prompt`` painted inside ``mask`` (PIL ``L``, white = change), the rest kept.

    ``image`` is one image for every seed, or a list with one image per seed. ``strength`` 1.0 repaints the
    masked area from pure noise; lower values keep some of what was there. ``grounding``: regions (phrase, box
    as fractions) a grounded model (GLIGEN) is told, so that it places what it paints (``ValueError`` with the
    reason for a family that is not grounded). ``guidance``: the classifier-free guidance scale (default: the
    model's ``edit_guidance``, else its ``guidance``); the result records the one it ran at.
    """
    from limner.tools.generators.diffusers_backend import counted_call, seeded

    if not 0.0 < strength <= 1.0:
        raise ValueError(f"strength must be in (0, 1], got {strength}")
    n = len(seeds)
    images = [im.convert("RGB") for im in image] if isinstance(image, list) else [image.convert("RGB")] * n
    if len(images) != n:
        raise ValueError(f"{len(images)} images for {n} seeds: give one image, or one per seed")
    if any(mask.size != im.size for im in images):
        raise ValueError(f"the mask is {mask.size}, the image {images[0].size}: they must match")
    from limner.tools.generators.families import editing_pipe, text_kwargs

    spec = generator.spec
    if guidance is None:
        guidance = spec.edit_guidance if spec.edit_guidance is not None else spec.guidance
    pipe = editing_pipe(generator, "inpaint")  # the family's inpainting class, sharing the loaded modules
    soft = soften(mask, feather)
    width, height = images[0].size
    if type(pipe).__name__ == "StableDiffusionGLIGENPipeline":  # GLIGEN's inpainting checkpoint
        return _gligen_inpaint(generator, pipe, images, mask, soft, prompt, seeds, negative_prompt=negative_prompt,
                               feather=feather, steps=steps, grounding=grounding, guidance=guidance)
    kwargs = dict(prompt=[prompt] * n, image=images, mask_image=[soft] * n, strength=strength,
                  num_inference_steps=steps or spec.steps, guidance_scale=guidance, height=height, width=width,
                  generator=seeded(seeds), output_type="pil", **text_kwargs(spec))
    if negative_prompt and spec.uses_cfg:
        kwargs["negative_prompt"] = [negative_prompt] * n
    if grounding:
        if spec.caps.lacks("grounded"):
            raise ValueError(spec.caps.lacks("grounded"))
        from limner.tools.generators.grounding import enable_fusers, gligen_inputs

        enable_fusers(pipe.unet)  # a grounded generation before may have left them closed
        kwargs["cross_attention_kwargs"] = gligen_inputs(pipe, grounding, n, spec.uses_cfg)
    raw, nfe, seconds = counted_call(pipe, kwargs)
    images = [composite(before, out, soft) for before, out in zip(images, raw)]
    params = {"editor": "inpaint", "prompt": prompt, "negative_prompt": negative_prompt, "strength": strength,
              "feather": feather, "steps": steps or spec.steps, "guidance": guidance, "seeds": list(seeds),
              **({"grounding": [dict(r) for r in grounding]} if grounding else {})}
    return EditResult(images=images, nfe=nfe, seconds=seconds, params=params)


def _gligen_inpaint(generator, pipe, images, mask, soft, prompt: str, seeds: list[int], *, negative_prompt: str,
                    feather: int, steps: int | None, grounding: list[dict] | None, guidance: float) -> EditResult:
    """GLIGEN's inpainting checkpoint through its own pipeline (``gligen_inpaint_image``): it keeps the image
    outside the boxes and paints each phrase into its box. Without ``grounding`` the prompt goes into the mask's
    bounding box. The pipeline works at its VAE's sample size (it crops there), so the image is resized to it
    and the result back; it draws the re-noised image with torch's global generator, so each seed's call runs
    with that generator seeded by the seed (and restored after), and repeats exactly. It repaints from noise:
    the strength it ran at, 1.0, is what the result records."""
    import torch
    from PIL import Image

    from limner.tools.generators.diffusers_backend import counted_call, seeded

    spec = generator.spec
    box = mask.getbbox()
    if box is None:
        raise ValueError("the mask is empty: nothing to inpaint")
    regions = grounding or [{"phrase": prompt, "box": [box[0] / mask.width, box[1] / mask.height,
                                                       box[2] / mask.width, box[3] / mask.height]}]
    side = int(pipe.vae.config.sample_size)
    devices = [torch.device(generator.device)] if str(generator.device).startswith("cuda") else []
    out, nfe, seconds = [], 0, 0.0
    for image, seed in zip(images, seeds):
        kwargs = dict(prompt=prompt, gligen_phrases=[r["phrase"] for r in regions],
                      gligen_boxes=[[float(v) for v in r["box"]] for r in regions],
                      gligen_inpaint_image=image.resize((side, side), Image.BICUBIC),
                      gligen_scheduled_sampling_beta=spec.grounding_beta, num_inference_steps=steps or spec.steps,
                      guidance_scale=guidance, height=side, width=side, generator=seeded([seed]),
                      output_type="pil")
        if negative_prompt and spec.uses_cfg:
            kwargs["negative_prompt"] = negative_prompt
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            raw, n, sec = counted_call(pipe, kwargs)
        out.append(composite(image, raw[0].resize(image.size, Image.BICUBIC), soft))
        nfe, seconds = nfe + n, seconds + sec
    params = {"editor": "inpaint", "pipeline": type(pipe).__name__, "prompt": prompt,
              "negative_prompt": negative_prompt, "strength": 1.0, "feather": feather, "steps": steps or spec.steps,
              "guidance": guidance, "seeds": list(seeds), "grounding": [dict(r) for r in regions],
              "beta": spec.grounding_beta}
    return EditResult(images=out, nfe=nfe, seconds=seconds, params=params)
