"""PickScore (Kirstain et al. 2023): a CLIP-H fine-tuned on human preferences (Pick-a-Pic).

Weights ``yuvalkirstain/PickScore_v1``; tokenizer and preprocessing from the LAION CLIP-H processor
(``laion/CLIP-ViT-H-14-laion2B-s32B-b79K``), as the authors load it. Raw score: ``logit_scale.exp() * cos``
(PickScore's own number, about 18-23 for typical images). Calibration: ``(raw - 17) / (23.5 - 17)``, clamped.
"""

from __future__ import annotations

from limner.tools.verifiers.clip_base import CLIPReward


class PickScore(CLIPReward):
    name = "pickscore"
    default_model = "yuvalkirstain/PickScore_v1"
    default_processor = "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"
    default_calibration = (17.0, 23.5)

    def __init__(self, model: str | None = None, processor: str | None = None, **kwargs):
        super().__init__(model, processor=processor or (None if model else self.default_processor), **kwargs)

    def raw_scores(self, pixels, prompts):
        cos = self.cosine(pixels, prompts)  # loads the model
        return self.clip.logit_scale.exp().float() * cos
