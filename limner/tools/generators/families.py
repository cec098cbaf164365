"""What each model family is and can do: one table, read by every check.

A model's family comes from what it is: the ``_class_name`` of its ``model_index.json``. Everything
Limner decides by family (explicit noise or seeds, UNet or transformer, which search strategies, regional
attention, which editing pipelines, how many prompt tokens, negative prompts, guidance) reads ``FAMILIES``.
A feature a family lacks is stated by ``Family.lacks(feature)``: the reason, in one line, that the CLI and the
manifest record.

Adding a family is one entry here (and, if it encodes prompts differently, one encoder in ``prompt_cache``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Family:
    name: str
    label: str
    pipelines: tuple[str, ...]  # model_index.json _class_name values of this family
    denoiser: str  # "unet" or "transformer"
    explicit_noise: bool  # the pipeline takes an explicit, unpacked initial latent per sample
    text_tokens: int  # prompt tokens the pipeline encodes (the longest of its text encoders)
    prompt_style: str  # what the planner is told: "clip" (short, keyword-dense) or "natural" (long sentences)
    negative_prompt: bool  # the pipeline takes a negative prompt in its ordinary call
    guidance: str  # "cfg" (two passes per step when > 1), "distilled" (no CFG; FLUX), "instruction" (ip2p: three)
    steps: int  # recommended settings for weights of this family with no alias
    guidance_scale: float
    img2img: str | None = None  # diffusers pipeline class for variations, None: the family has none
    inpaint: str | None = None  # diffusers pipeline class for region repair
    regional: bool = False  # Limner's regional attention (limner.tools.generators.regional)
    loop: bool = False  # Limner's own denoising loop (paths, reno)
    text_to_image: bool = True
    joint_attention: bool = False  # MMDiT: image and text tokens in one softmax (regional by an attention mask)
    grounded: bool = False  # trained to take boxes: GLIGEN's gated self-attention (gligen_phrases, gligen_boxes)
    text_pipeline: str | None = None  # the plain text-to-image class, when the family's own pipeline needs more
    pooled_text: bool = False  # a second text encoder's pooled embedding and size conditioning (SDXL's encode_prompt)
    sequence_length_arg: bool = False  # the call takes ``max_sequence_length`` (T5 pipelines that encode text)
    latent_sample: int | None = None  # latent side when the denoiser's config gives no ``sample_size``
    in_channels: int | None = None  # a variant of a pipeline class told apart by its denoiser (GLIGEN inpainting: 9)
    notes: dict = field(default_factory=dict)  # a family's variants: "dev_*" (guidance embedded), "alpha_*"

    @property
    def uses_cfg_passes(self) -> int:
        return 3 if self.guidance == "instruction" else 2

    def lacks(self, feature: str) -> str | None:
        """Why this family cannot do ``feature`` (one line), or None when it can."""
        ok = {
            "explicit_noise": self.explicit_noise,
            "loop": self.loop,
            "regional": self.regional,
            "inpaint": self.inpaint is not None,
            "img2img": self.img2img is not None,
            "negative_prompt": self.negative_prompt,
            "text_to_image": self.text_to_image,
            "grounded": self.grounded,
        }[feature]
        if ok:
            return None
        return {
            "explicit_noise": f"{self.label} pipelines draw their own (packed) noise from seeds, so noise search "
                              "(zero_order) cannot set it: fresh seeds instead",
            "loop": f"Limner's denoising loop (paths, reno) drives UNet pipelines; {self.label} is a "
                    f"{self.denoiser} model",
            "regional": f"regional attention is implemented for UNet cross-attention and MMDiT joint attention; "
                        f"{self.label} is neither: generated from the prompt alone",
            "inpaint": f"diffusers has no inpainting pipeline for {self.label}: region repair is not available",
            "img2img": f"diffusers has no image-to-image pipeline for {self.label}: variations are not available",
            "negative_prompt": f"{self.label} takes no negative prompt in its ordinary call: it is dropped",
            "grounded": f"{self.label} is not trained to take boxes (GLIGEN's grounding): a layout can only steer it "
                        "by regional attention, where the family has it",
            "text_to_image": f"{self.label} edits images {self.notes.get('edits', 'by instruction')}; it does not "
                             "draw from text alone",
        }[feature]


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in [
        Family("sd", "Stable Diffusion 1.x/2.x", ("StableDiffusionPipeline",), "unet", True, 77, "clip", True,
               "cfg", 30, 7.5, "StableDiffusionImg2ImgPipeline", "StableDiffusionInpaintPipeline", regional=True,
               loop=True),
        Family("sdxl", "SDXL", ("StableDiffusionXLPipeline",), "unet", True, 77, "clip", True, "cfg", 30, 5.0,
               "StableDiffusionXLImg2ImgPipeline", "StableDiffusionXLInpaintPipeline", regional=True, loop=True,
               pooled_text=True),
        Family("sd3", "Stable Diffusion 3", ("StableDiffusion3Pipeline",), "transformer", True, 256, "natural", True,
               "cfg", 28, 4.5, "StableDiffusion3Img2ImgPipeline", "StableDiffusion3InpaintPipeline", regional=True,
               joint_attention=True),
        # FLUX.1 [dev] embeds guidance and reads 512 T5 tokens; [schnell] has no guidance embedding and 256
        Family("flux", "FLUX.1", ("FluxPipeline",), "transformer", False, 256, "natural", False, "distilled", 4, 0.0,
               "FluxImg2ImgPipeline", "FluxInpaintPipeline", latent_sample=128, regional=True, joint_attention=True,
               notes={"dev_text_tokens": 512, "dev_steps": 28, "dev_guidance": 3.5}),
        Family("pixart", "PixArt", ("PixArtSigmaPipeline", "PixArtAlphaPipeline"), "transformer", True, 300, "natural",
               True, "cfg", 20, 4.5, sequence_length_arg=True, notes={"alpha_text_tokens": 120}),
        # GLIGEN: SD 1.x with gated self-attention on phrase + box tokens; plain calls go through the SD pipeline
        Family("gligen", "GLIGEN (Stable Diffusion 1.x, grounded)", ("StableDiffusionGLIGENPipeline",), "unet", True,
               77, "clip", True, "cfg", 50, 7.5, "StableDiffusionImg2ImgPipeline", "StableDiffusionInpaintPipeline",
               regional=True, loop=True, grounded=True, text_pipeline="StableDiffusionPipeline"),
        # GLIGEN's inpainting checkpoint: the same pipeline class, a 9-channel UNet (latents, the image's latents
        # outside the boxes, the mask); it paints each phrase into its box of a given image, and only that
        Family("gligen-inpaint", "GLIGEN inpainting (Stable Diffusion 1.x, grounded)", ("StableDiffusionGLIGENPipeline",),
               "unet", True, 77, "clip", True, "cfg", 50, 7.5, inpaint="StableDiffusionGLIGENPipeline", grounded=True,
               text_to_image=False, in_channels=9, notes={"edits": "by painting phrases into boxes"}),
        # its own pipeline is image-to-image: a variation applies the instruction again with fresh seeds
        Family("ip2p", "InstructPix2Pix", ("StableDiffusionInstructPix2PixPipeline",), "unet", True, 77, "clip", True,
               "instruction", 20, 7.5, img2img="StableDiffusionInstructPix2PixPipeline", text_to_image=False),
    ]
}

def editing_pipe(generator, kind: str):
    """The family's ``kind`` ("inpaint" or "img2img") pipeline sharing the generator's loaded modules
    (``from_pipe``; kept on the generator). ``ValueError`` with the reason when the family has none."""
    import diffusers

    spec = generator.spec
    why = spec.caps.lacks(kind)
    if why:
        raise ValueError(why)
    attr = f"_{kind}_pipe"
    pipe = getattr(generator, attr, None)
    if pipe is None:
        pipe = getattr(diffusers, getattr(spec.caps, kind)).from_pipe(generator.pipe)
        pipe.set_progress_bar_config(disable=True)
        setattr(generator, attr, pipe)
    return pipe


def text_kwargs(spec) -> dict:
    """Pipeline-call arguments that bound the prompt's length for families with a T5 encoder."""
    if spec.caps.text_tokens > 77:
        return {"max_sequence_length": spec.max_text_tokens}
    return {}


FAMILY_BY_PIPELINE = {cls: f.name for f in FAMILIES.values() for cls in f.pipelines if f.in_channels is None}


def family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown model family '{name}': one of {', '.join(FAMILIES)}") from None


def family_of_pipeline(class_name: str, where: str, denoiser: dict | None = None) -> str:
    """The family of a ``model_index.json`` ``_class_name`` and its denoiser's config (a variant with its own
    ``in_channels``, e.g. GLIGEN's inpainting UNet); ``ValueError``, one line, when Limner has none."""
    channels = (denoiser or {}).get("in_channels")
    variant = next((f.name for f in FAMILIES.values() if class_name in f.pipelines and f.in_channels is not None
                    and f.in_channels == channels), None)
    if variant:
        return variant
    if class_name in FAMILY_BY_PIPELINE:
        return FAMILY_BY_PIPELINE[class_name]
    known = ", ".join(sorted(FAMILY_BY_PIPELINE))
    raise ValueError(f"{where} is a {class_name or 'pipeline without a _class_name'}, which Limner cannot drive "
                     f"(it knows {known})")
