"""Shared machinery of the CLIP-based reward models: loading, torch preprocessing, embeddings.

Subclasses say how embeddings become a raw score and how the raw score is calibrated. Pixels go in as a
float tensor (N, 3, H, W) in [0, 1]; resize, centre crop and normalise run in torch, so every CLIP-based
verifier is differentiable with respect to pixels.
"""

from __future__ import annotations

import json
from pathlib import Path

from limner.tools._home import models_dir
from limner.tools.verifiers.base import Score, linear_calibration

TEXT_CACHE = 64  # text embeddings kept per verifier

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def resolve_local(model_id: str) -> str:
    """Built-in model names (``builtin:...``) to folders; other ids pass through."""
    if model_id == "builtin:tiny-random-clip":
        from limner.tools.generators.tiny import ensure_tiny_clip

        return str(ensure_tiny_clip(models_dir() / "tiny-random-clip"))
    if model_id.startswith("builtin:"):
        from limner.tools.shapes.weights import shipped_model

        return str(shipped_model(model_id.split(":", 1)[1]))
    return model_id


class CLIPReward:
    """Base class: subclasses set ``name``, ``default_model``, ``default_calibration`` and ``raw_scores``."""

    name = "clip-reward"
    differentiable = True
    llm_calls_per_image = 0
    default_model = ""
    default_calibration = (0.0, 1.0)

    def __init__(self, model: str | None = None, device: str | None = None, dtype: str | None = None,
                 calibration: tuple[float, float] | None = None, processor: str | None = None,
                 name: str | None = None):
        self.model_id = model or self.default_model
        self.processor_id = processor  # where the tokenizer lives, when not beside the weights (PickScore)
        self.name = name or self.name
        self._device, self._dtype_name = device, dtype
        self._calibration = calibration
        self._model = self._tokenizer = None
        self._text_cache: dict = {}  # prompt -> embedding (1, D), oldest first

    # --- calibration -----------------------------------------------------------------------------
    @property
    def calibration(self) -> tuple[float, float]:
        if self._calibration is None:
            self._calibration = self._file_calibration() or self.default_calibration
        return self._calibration

    def _file_calibration(self) -> tuple[float, float] | None:
        """A model folder may carry its calibration in ``limner_calibration.json``."""
        try:
            path = Path(resolve_local(self.model_id)) / "limner_calibration.json"
        except RuntimeError:
            return None
        if path.is_file():
            low, high = json.loads(path.read_text())["calibration"]
            return float(low), float(high)
        return None

    def describe(self) -> dict:
        return {"name": self.name, "model": self.model_id, "calibration": list(self.calibration)}

    # --- loading ---------------------------------------------------------------------------------
    def load_model(self, path: str):
        from transformers import CLIPModel

        return CLIPModel.from_pretrained(path)

    def _load(self) -> None:
        if self._model is not None:
            return
        from limner.tools._loading import load_once
        from limner.tools._quiet import quiet_libraries
        from limner.tools.generators.diffusers_backend import pick_device, pick_dtype

        quiet_libraries()
        self.device = pick_device(self._device)
        self.dtype = pick_dtype(self.device, "sd", self._dtype_name)

        def load():
            from transformers import AutoTokenizer

            model = self.load_model(resolve_local(self.model_id))
            tokenizer = AutoTokenizer.from_pretrained(resolve_local(self.processor_id or self.model_id))
            return model.eval().requires_grad_(False).to(self.device, self.dtype), tokenizer

        key = (type(self).__name__, self.model_id, self.processor_id, str(self.device), str(self.dtype))
        self._model, self._tokenizer = load_once(key, self.model_id, load)
        clip = self.clip
        self._image_size = clip.config.vision_config.image_size
        self._mean, self._std = CLIP_MEAN, CLIP_STD
        cfg = Path(resolve_local(self.processor_id or self.model_id)) / "preprocessor_config.json"
        if cfg.is_file():
            data = json.loads(cfg.read_text())
            self._mean = tuple(data.get("image_mean", CLIP_MEAN))
            self._std = tuple(data.get("image_std", CLIP_STD))

    @property
    def clip(self):
        """The ``CLIPModel`` inside (subclasses may wrap it)."""
        return self._model

    # --- embeddings ------------------------------------------------------------------------------
    def preprocess(self, pixels):
        """``pixels``: float tensor (N, 3, H, W) in [0, 1] -> CLIP input, differentiably."""
        import torch
        import torch.nn.functional as F

        size = self._image_size
        h, w = pixels.shape[-2:]
        scale = size / min(h, w)
        nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
        x = F.interpolate(pixels, size=(nh, nw), mode="bicubic", antialias=True, align_corners=False)
        top, left = (nh - size) // 2, (nw - size) // 2
        x = x[..., top: top + size, left: left + size]
        mean = torch.tensor(self._mean, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
        std = torch.tensor(self._std, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
        return (x - mean) / std

    def image_embeds(self, pixels):
        import torch.nn.functional as F

        self._load()
        out = self.clip.get_image_features(pixel_values=self.preprocess(pixels.to(self.device, self.dtype)))
        return F.normalize(getattr(out, "pooler_output", out).float(), dim=-1)

    def text_embeds(self, prompts: list[str]):
        """Normalised text embeddings (N, D). Each distinct prompt is encoded once, alone, and kept: the
        prompts of a run repeat every round, and a prompt's embedding does not depend on its batch."""
        import torch

        self._load()
        missing = [p for p in dict.fromkeys(prompts) if p not in self._text_cache]
        if missing:
            # never inference tensors: a gradient step (ReNO) multiplies them with image embeddings later
            with torch.inference_mode(False), torch.no_grad():
                for prompt in missing:
                    self._text_cache[prompt] = self._encode_text(prompt)
            while len(self._text_cache) > TEXT_CACHE:
                self._text_cache.pop(next(iter(self._text_cache)))
        return torch.cat([self._text_cache[p] for p in prompts])

    def _encode_text(self, prompt: str):
        import torch.nn.functional as F

        tokens = self._tokenizer([prompt], truncation=True, return_tensors="pt").to(self.device)
        out = self.clip.get_text_features(**tokens)
        return F.normalize(getattr(out, "pooler_output", out).float(), dim=-1)

    def cosine(self, pixels, prompts: list[str]):
        """Cosine similarity per image (a differentiable tensor of shape (N,))."""
        return (self.image_embeds(pixels) * self.text_embeds(prompts)).sum(-1)

    # --- scoring ---------------------------------------------------------------------------------
    def raw_scores(self, pixels, prompts: list[str]):
        """Differentiable raw scores (N,). Subclasses override."""
        return self.cosine(pixels, prompts)

    def calibrate(self, raw):
        """Raw tensor -> calibrated tensor in [0, 1] (differentiable; clamps at the ends)."""
        low, high = self.calibration
        return ((raw - low) / (high - low)).clamp(0.0, 1.0)

    def reward(self, pixels, prompts: list[str]):
        """The calibrated score without clamping (clamping would stop the gradient): for gradient ascent."""
        low, high = self.calibration
        return (self.raw_scores(pixels, prompts) - low) / (high - low)

    def score(self, images: list, prompts: list[str]) -> list[Score]:
        import torch

        from limner.tools.images import to_tensor

        if len(images) != len(prompts):
            raise ValueError("score() needs one prompt per image")
        if not images:
            return []
        with torch.no_grad():
            raw = self.raw_scores(to_tensor(images), prompts).float().cpu().tolist()
        low, high = self.calibration
        return [Score(score=linear_calibration(r, low, high), raw=float(r)) for r in raw]
