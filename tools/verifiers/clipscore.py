"""CLIPScore: cosine similarity of CLIP image and text embeddings (Hessel et al. 2021).

Calibration: ``score = clamp((cos - low) / (high - low))``. The defaults
``low=0.15, high=0.40`` span what CLIP ViT-L/14 gives between an unrelated and a
well-matched image-caption pair; pass ``calibration=(low, high)`` to change them.
Preprocessing (resize, centre crop, normalise) is done in torch, so the score is
differentiable with respect to pixels given as a tensor in [0, 1].
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tools._home import models_dir
from tools.verifiers.base import Score, linear_calibration

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
BUILTIN_RANDOM = "builtin:tiny-random-clip"


def default_clip_model() -> str:
    """``LIMNER_CLIP_MODEL`` if set, else the built-in tiny random CLIP (offline stand-in)."""
    return os.environ.get("LIMNER_CLIP_MODEL") or BUILTIN_RANDOM


class CLIPScore:
    name = "clipscore"
    differentiable = True
    llm_calls_per_image = 0

    def __init__(self, model: str | None = None, device: str | None = None,
                 calibration: tuple[float, float] | None = None):
        self.model_id = model or default_clip_model()
        self.random_weights = self.model_id == BUILTIN_RANDOM
        if calibration is None:
            calibration = (-1.0, 1.0) if self.random_weights else (0.15, 0.40)
        self.low, self.high = float(calibration[0]), float(calibration[1])
        self._device = device
        self._model = None
        self._tokenizer = None

    def describe(self) -> dict:
        return {"name": self.name, "model": self.model_id, "calibration": [self.low, self.high],
                "random_weights": self.random_weights}

    def _path(self) -> str:
        if self.random_weights:
            from tools.generators.tiny import ensure_tiny_clip

            return str(ensure_tiny_clip(models_dir() / "tiny-random-clip"))
        return self.model_id

    def _load(self):
        if self._model is not None:
            return
        from transformers import AutoTokenizer, CLIPModel

        from tools.generators.diffusers_backend import pick_device

        path = self._path()
        try:
            self._model = CLIPModel.from_pretrained(path).eval()
            self._tokenizer = AutoTokenizer.from_pretrained(path)
        except OSError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else "not found"
            raise RuntimeError(f"cannot load CLIP weights '{self.model_id}': {first}") from None
        self._model.requires_grad_(False)
        self.device = pick_device(self._device)
        self._model.to(self.device)
        self._image_size = self._model.config.vision_config.image_size
        self._mean, self._std = CLIP_MEAN, CLIP_STD
        cfg = Path(path) / "preprocessor_config.json"
        if cfg.is_file():
            data = json.loads(cfg.read_text())
            self._mean = tuple(data.get("image_mean", CLIP_MEAN))
            self._std = tuple(data.get("image_std", CLIP_STD))

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
        x = x[..., top : top + size, left : left + size]
        mean = torch.tensor(self._mean, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
        std = torch.tensor(self._std, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
        return (x - mean) / std

    def cosine(self, pixels, prompts: list[str]):
        """Cosine similarity per image (a differentiable tensor of shape (N,))."""
        import torch

        self._load()
        tokens = self._tokenizer(prompts, padding=True, truncation=True, return_tensors="pt").to(self.device)
        image_out = self._model.get_image_features(pixel_values=self.preprocess(pixels.to(self.device)))
        text_out = self._model.get_text_features(**tokens)
        image_emb = getattr(image_out, "pooler_output", image_out)
        text_emb = getattr(text_out, "pooler_output", text_out)
        image_emb = torch.nn.functional.normalize(image_emb, dim=-1)
        text_emb = torch.nn.functional.normalize(text_emb, dim=-1)
        return (image_emb * text_emb).sum(-1)

    def score(self, images: list, prompts: list[str]) -> list[Score]:
        import torch

        from tools.images import to_tensor

        if len(images) != len(prompts):
            raise ValueError("score() needs one prompt per image")
        if not images:
            return []
        with torch.no_grad():
            cos = self.cosine(to_tensor(images), prompts).float().cpu().tolist()
        return [Score(score=linear_calibration(c, self.low, self.high), raw=float(c)) for c in cos]
