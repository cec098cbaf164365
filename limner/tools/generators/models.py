"""Models: aliases with their recommended settings, and any hub id or diffusers folder read from its weights.

A model's family comes from its ``model_index.json`` (``limner.tools.generators.families``), its default size from
its denoiser's and VAE's configs; an alias only adds recommended settings. Adding an alias is one entry in
``MODELS``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

from limner.tools.generators.families import FAMILIES, family as family_info, family_of_pipeline
from limner.tools.generators.model_files import ModelIndex, WeightsMissing, cached_index, read_index
from limner.tools.plugins import extend


@dataclass(frozen=True)
class ModelSpec:
    alias: str
    source: str  # hub id, local folder, or "builtin:<name>" for models Limner builds itself
    family: str  # sd, sdxl, sd3, flux, pixart; ip2p edits images by instruction (InstructPix2Pix)
    steps: int
    guidance: float
    width: int
    height: int
    scheduler: str | None = None  # diffusers scheduler class name, None keeps the pipeline's
    description: str = ""
    revision: str | None = None  # the hub snapshot (commit hash) the weights are read from, for hub ids
    text_tokens: int | None = None  # prompt tokens the pipeline encodes (None: the family's)
    grounding_beta: float = 0.3  # grounded families: the share of steps that take the boxes (GLIGEN's default)
    erase_prompt: str = "empty background"  # what an inpainting that removes an object paints (no background said)
    edit_guidance: float | None = None  # the guidance an inpainting edit runs at (None: ``guidance``)
    least_object: float = 0.0  # the smallest side (a fraction of the image's) an added or moved object is painted at
    # whether an object a person's edit adds (a chat turn) gets the plan's other object names as its negative
    # prompt, besides the plan's (False: the plan's only; measured on shapes-tiny alone)
    edit_avoid: bool = False
    # whether a restyle's candidates must keep the outlines of the image restyled (``tools/verifiers/structure.py``;
    # False: only its objects' places are checked. Calibrated on the shapes world alone)
    restyle_structure: bool = False

    @property
    def caps(self):
        """What this model's family can do (``limner.tools.generators.families.Family``)."""
        return family_info(self.family)

    @property
    def draws_shapes(self) -> bool:
        """The embedded shapes models: their images are drawn as the shapes renderer draws, so the exact parser
        reads them."""
        return self.source == "builtin:shapes-tiny"

    @property
    def max_text_tokens(self) -> int:
        return self.text_tokens or self.caps.text_tokens

    @property
    def uses_cfg(self) -> bool:
        """Whether a pipeline call runs classifier-free guidance (two denoiser passes per step)."""
        # FLUX is guidance-distilled (no CFG pass); the turbo models run guidance <= 1, which disables CFG.
        return self.caps.guidance != "distilled" and self.guidance > 1.0

    def nfe_per_candidate(self) -> int:
        return self.steps * (self.caps.uses_cfg_passes if self.uses_cfg else 1)

    def to_dict(self) -> dict:
        return asdict(self)

    def with_overrides(self, **overrides) -> "ModelSpec":
        clean = {k: v for k, v in overrides.items() if v is not None}
        return replace(self, **clean)


BUILTIN: dict[str, ModelSpec] = {
    spec.alias: spec
    for spec in [
        ModelSpec(
            "shapes-tiny", "builtin:shapes-tiny", "gligen", 20, 4.0, 64, 64,
            description="The embedded shapes world: a tiny SD-architecture model trained here on coloured "
            "circles, squares and triangles, with GLIGEN's gated layers so it takes boxes (offline, "
            "CPU-friendly; see limner/tools/shapes/weights/shapes-tiny).",
            # boxes for half the steps: 0.983 of held-out objects in their box (0.2: 0.888, 0.3: 0.966, 1.0:
            # 0.914; `limner bench grounding --model shapes-tiny --mode grounded --beta B`, 48 scenes)
            grounding_beta=0.5,
            # an unknown word paints the empty canvas: 16 of 16 objects erased, against 7 with "" and 1 with "a
            # white background" (8 scenes x 2 seeds, inpainting the object's box grown by 3 px)
            erase_prompt="nothing",
            # edits at guidance 4 painted objects of two colours (a patch of the old colour or a neighbour's);
            # at 2, 30 development turns each of recolour, replace and regenerate: 71 right and 12 false passes
            # -> 88 and 2 (`limner bench sessions --kinds recolor,replace,regenerate --seed 0`; 3: 79 and 10)
            edit_guidance=2.0,
            # the shapes world's smallest object is 12 px of 64 (what the model was trained on); an add placed
            # smaller where the side asked had little room painted 10 px objects, often of the wrong shape
            least_object=12 / 64,
            # an added object took a neighbour's shape (a circle painted squarish, read as a square): told the
            # plan's other names as its negative prompt, 90 development adds went from 84 right and 5 false passes
            # to 88 and 1 (`limner bench sessions --kinds add --per-kind 90 --seed 0`); objects changed in place
            # gained nothing from it (150 development turns of resize, move, recolour, replace, regenerate: 140
            # right either way, 3 false passes without it, 5 with it), so only an added one gets it
            edit_avoid=True,
            # a restyle (img2img) that added a small object or bent an outline passed: the detector finds the
            # objects where they were and misses a speck. Outlines compared with the image restyled (and retries
            # restyling the person's image): 60 development restyles went from 36 right and 5 false passes to 49
            # and 1 (`limner bench sessions --kinds restyle --per-kind 60 --seed 0`; docs/studio.md)
            restyle_structure=True,
        ),
        ModelSpec(
            "tiny-random-sd", "builtin:tiny-random-sd", "sd", 8, 5.0, 64, 64,
            description="Tiny Stable-Diffusion-architecture model with random weights, built locally "
            "(offline stand-in; its images are noise-like).",
        ),
        ModelSpec("sd-turbo", "stabilityai/sd-turbo", "sd", 1, 0.0, 512, 512,
                  description="SD 2.1 distilled for 1-4 steps."),
        ModelSpec("sdxl-turbo", "stabilityai/sdxl-turbo", "sdxl", 1, 0.0, 512, 512,
                  description="SDXL distilled for 1-4 steps."),
        ModelSpec("sd15", "stable-diffusion-v1-5/stable-diffusion-v1-5", "sd", 30, 7.5, 512, 512,
                  scheduler="DPMSolverMultistepScheduler", description="Stable Diffusion 1.5."),
        ModelSpec("sdxl", "stabilityai/stable-diffusion-xl-base-1.0", "sdxl", 30, 5.0, 1024, 1024,
                  scheduler="DPMSolverMultistepScheduler", description="SDXL base 1.0."),
        ModelSpec("sd3.5-medium", "stabilityai/stable-diffusion-3.5-medium", "sd3", 40, 4.5, 1024, 1024,
                  description="Stable Diffusion 3.5 Medium (MMDiT)."),
        ModelSpec("flux-schnell", "black-forest-labs/FLUX.1-schnell", "flux", 4, 0.0, 1024, 1024,
                  description="FLUX.1 [schnell], 4-step distilled."),
        ModelSpec("instruct-pix2pix", "timbrooks/instruct-pix2pix", "ip2p", 20, 7.5, 512, 512,
                  description="InstructPix2Pix: edits an image by an instruction (for `limner edit`)."),
        ModelSpec("gligen", "masterful/gligen-1-4-generation-text-box", "gligen", 50, 7.5, 512, 512,
                  description="GLIGEN on SD 1.4: boxes and phrases place objects (grounded layouts)."),
        ModelSpec("gligen-inpaint", "masterful/gligen-1-4-inpainting-text-box", "gligen-inpaint", 50, 7.5, 512, 512,
                  description="GLIGEN inpainting on SD 1.4: paints each phrase into its box of an image (edits, "
                  "repairs; not text to image)."),
        ModelSpec("pixart-sigma", "PixArt-alpha/PixArt-Sigma-XL-2-1024-MS", "pixart", 20, 4.5, 1024, 1024,
                  description="PixArt-Sigma XL 1024."),
    ]
}

def _adapt(name: str, loaded) -> ModelSpec:
    spec = loaded() if callable(loaded) and not isinstance(loaded, ModelSpec) else loaded
    if not isinstance(spec, ModelSpec):
        raise TypeError(f"{loaded!r} is not a limner.tools.generators.ModelSpec")
    family_info(spec.family)  # an unknown family is an error here, not at generation
    return replace(spec, alias=name)


# aliases: the built-ins, then a plugin's (one ``limner.models`` entry point each: ``limner.tools.plugins``)
MODELS: dict[str, ModelSpec] = extend("models", dict(BUILTIN), _adapt)

EMBEDDED_DEFAULT = "shapes-tiny"


def default_model() -> str:
    """The model used when none is named: ``LIMNER_MODEL`` if set, else the embedded model."""
    from limner.tools.settings import load_settings

    return load_settings().model or EMBEDDED_DEFAULT


def _looks_like_hub_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "/", "~"))


def _alias_of_source(source: str) -> ModelSpec | None:
    return next((m for m in MODELS.values() if m.source == source), None)


def spec_from_index(idx: ModelIndex, alias: str) -> ModelSpec:
    """Settings a model's own files recommend: its family's, at the size its denoiser was trained for."""
    denoiser = idx.config("unet") or idx.config("transformer")
    fam = family_info(family_of_pipeline(idx.class_name, f"'{idx.source}'", denoiser))
    vae = idx.config("vae")
    factor = 2 ** (len(vae.get("block_out_channels", [0, 0, 0, 0])) - 1)
    sample = denoiser.get("sample_size")
    if isinstance(sample, (list, tuple)):
        sample = sample[0]
    size = int(sample) * factor if sample else (fam.latent_sample * factor if fam.latent_sample else 512)
    steps, guidance, tokens = fam.steps, fam.guidance_scale, None
    if denoiser.get("guidance_embeds") and "dev_steps" in fam.notes:  # FLUX.1 [dev]: guidance embedded, 512 tokens
        steps, guidance, tokens = fam.notes["dev_steps"], fam.notes["dev_guidance"], fam.notes["dev_text_tokens"]
    if idx.class_name == "PixArtAlphaPipeline":
        tokens = fam.notes["alpha_text_tokens"]
    return ModelSpec(alias, idx.source, fam.name, steps, guidance, size, size, revision=idx.revision,
                     text_tokens=tokens)


def _shipped_index(source: str) -> ModelIndex | None:
    """The index of a model shipped inside the package (``builtin:shapes-tiny``), so its family is what its
    folder says it is; None for the models Limner builds on first use (no shipped folder) and missing weights."""
    if not source.startswith("builtin:"):
        return None
    from limner.tools.shapes.weights import HERE

    folder = HERE / source.split(":", 1)[1]
    return read_index(str(folder)) if (folder / "model_index.json").is_file() else None


def _on_weights(alias: ModelSpec, idx: ModelIndex) -> ModelSpec:
    """An alias's recommended settings on what its weights say they are (family, revision, prompt length)."""
    weights = spec_from_index(idx, alias.alias)
    return replace(alias, family=weights.family, revision=weights.revision,
                   text_tokens=alias.text_tokens or weights.text_tokens)


def resolve_model(name: str | None) -> ModelSpec:
    """Turn an alias, hub id, local folder or ``builtin:`` source into a ``ModelSpec``.

    An alias's family is checked against its weights when they are in the cache; a hub id or folder is read
    from its ``model_index.json``. Raises ``ValueError`` with a one-line message naming the fix.
    """
    name = (name or default_model()).strip()
    if name.startswith("builtin:"):
        found = _alias_of_source(name)
        if found is None:
            raise ValueError(f"unknown built-in model '{name}'")
        return found
    if name in MODELS:
        spec = MODELS[name]
        idx = cached_index(spec.source) if _looks_like_hub_id(spec.source) else _shipped_index(spec.source)
        return _on_weights(spec, idx) if idx is not None else spec  # not cached yet: check_available says so
    path = Path(name).expanduser()
    if path.is_dir():
        return spec_from_index(read_index(name), path.name)
    if _looks_like_hub_id(name):
        idx = read_index(name)
        alias = _alias_of_source(name)
        return _on_weights(alias, idx) if alias is not None else spec_from_index(idx, name)
    known = ", ".join(MODELS)
    raise ValueError(f"unknown model '{name}': use an alias ({known}), a hub id or a diffusers folder")


__all__ = ["FAMILIES", "MODELS", "ModelSpec", "WeightsMissing", "default_model", "resolve_model", "spec_from_index"]
