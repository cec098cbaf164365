"""Instruction editing with an InstructPix2Pix-family model: "make the square blue" applied to an image."""

from __future__ import annotations

from limner.tools.editing.result import EditResult


def instruct(generator, image, instruction: str, seeds: list[int], *, image_guidance: float = 1.5,
             negative_prompt: str = "", steps: int | None = None) -> EditResult:
    """One edited image per seed. ``generator`` must hold an instruction-editing model (family ``ip2p``).

    ``image_guidance`` is how closely the result follows the input image (InstructPix2Pix's image CFG scale).
    """
    from limner.tools.generators.diffusers_backend import counted_call, seeded

    spec = generator.spec
    if spec.caps.guidance != "instruction":
        raise ValueError(f"{spec.alias} is not an instruction-editing model: name one such as instruct-pix2pix")
    pipe = generator.pipe
    n = len(seeds)
    kwargs = dict(prompt=[instruction] * n, image=[image.convert("RGB")] * n, num_inference_steps=steps or spec.steps,
                  guidance_scale=spec.guidance, image_guidance_scale=image_guidance,
                  generator=seeded(seeds), output_type="pil")
    if negative_prompt and spec.uses_cfg:
        kwargs["negative_prompt"] = [negative_prompt] * n
    images, nfe, seconds = counted_call(pipe, kwargs)
    params = {"editor": "instruct", "prompt": instruction, "negative_prompt": negative_prompt,
              "image_guidance": image_guidance, "steps": steps or spec.steps, "guidance": spec.guidance,
              "seeds": list(seeds)}
    return EditResult(images=images, nfe=nfe, seconds=seconds, params=params)
