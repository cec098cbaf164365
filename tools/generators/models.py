"""Model aliases: short names mapped to weights and their recommended settings.

Adding a model is one entry in ``MODELS``. Any hub id ("org/name") or local
diffusers folder (with ``model_index.json``) is accepted as well; it then runs
with ``GENERIC`` settings unless the caller overrides them.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path


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

    @property
    def uses_cfg(self) -> bool:
        """Whether a pipeline call runs classifier-free guidance (two denoiser passes per step)."""
        # flux-schnell and the turbo models are guidance-distilled: guidance <= 1 disables CFG.
        return self.family != "flux" and self.guidance > 1.0

    def nfe_per_candidate(self) -> int:
        if self.family == "ip2p":  # text and image guidance: three passes per step
            return self.steps * (3 if self.uses_cfg else 1)
        return self.steps * (2 if self.uses_cfg else 1)

    def to_dict(self) -> dict:
        return asdict(self)

    def with_overrides(self, **overrides) -> "ModelSpec":
        clean = {k: v for k, v in overrides.items() if v is not None}
        return replace(self, **clean)


MODELS: dict[str, ModelSpec] = {
    spec.alias: spec
    for spec in [
        ModelSpec(
            "shapes-tiny", "builtin:shapes-tiny", "sd", 20, 4.0, 64, 64,
            description="The embedded shapes world: a tiny SD-architecture model trained here on coloured "
            "circles, squares and triangles (offline, CPU-friendly; see tools/shapes/weights/shapes-tiny).",
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
        ModelSpec("pixart-sigma", "PixArt-alpha/PixArt-Sigma-XL-2-1024-MS", "pixart", 20, 4.5, 1024, 1024,
                  description="PixArt-Sigma XL 1024."),
    ]
}

# Settings for a hub id or folder that is not an alias.
GENERIC = ModelSpec("custom", "", "sd", 30, 7.5, 512, 512)

_FAMILY_BY_PIPELINE = {
    "StableDiffusionPipeline": "sd",
    "StableDiffusionXLPipeline": "sdxl",
    "StableDiffusion3Pipeline": "sd3",
    "FluxPipeline": "flux",
    "PixArtSigmaPipeline": "pixart",
    "PixArtAlphaPipeline": "pixart",
    "StableDiffusionInstructPix2PixPipeline": "ip2p",
}

EMBEDDED_DEFAULT = "shapes-tiny"


def default_model() -> str:
    """The model used when none is named: ``LIMNER_MODEL`` if set, else the embedded model."""
    return os.environ.get("LIMNER_MODEL") or EMBEDDED_DEFAULT


def _looks_like_hub_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "/", "~"))


def resolve_model(name: str | None) -> ModelSpec:
    """Turn an alias, hub id or local folder into a ``ModelSpec``.

    Raises ``ValueError`` with a one-line message naming the fix.
    """
    name = (name or default_model()).strip()
    if name in MODELS:
        return MODELS[name]
    path = Path(name).expanduser()
    if path.is_dir():
        index = path / "model_index.json"
        if not index.is_file():
            raise ValueError(f"'{name}' is a folder but not a diffusers model (no model_index.json)")
        import json

        try:
            cls = json.loads(index.read_text()).get("_class_name", "")
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read {index}: {exc}") from None
        family = _FAMILY_BY_PIPELINE.get(cls, "sd")
        return replace(GENERIC, alias=path.name, source=str(path.resolve()), family=family)
    if _looks_like_hub_id(name):
        return replace(GENERIC, alias=name, source=name)
    known = ", ".join(MODELS)
    raise ValueError(f"unknown model '{name}': use an alias ({known}), a hub id or a diffusers folder")
