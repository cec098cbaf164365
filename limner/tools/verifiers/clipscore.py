"""CLIPScore: cosine similarity of CLIP image and text embeddings (Hessel et al. 2021), any CLIP checkpoint.

Calibration: ``score = clamp((cos - low) / (high - low))``. A model folder may carry its own
(``limner_calibration.json``; ``shapes-clip`` does: the 5th percentile of hard-negative pairs and the
95th of true pairs); otherwise ``low=0.15, high=0.40`` span what CLIP ViT-L/14 gives between an
unrelated and a well-matched pair. ``calibration=(low, high)`` overrides both.
"""

from __future__ import annotations

from limner.tools.verifiers.clip_base import CLIP_MEAN, CLIP_STD, CLIPReward  # noqa: F401  (re-exported)

from limner.tools.verifiers.requirements import BUILTIN_RANDOM, BUILTIN_SHAPES, default_clip_model  # noqa: F401


class CLIPScore(CLIPReward):
    name = "clipscore"
    default_calibration = (0.15, 0.40)

    def __init__(self, model: str | None = None, **kwargs):
        super().__init__(model or default_clip_model(), **kwargs)
        if self.model_id == BUILTIN_RANDOM and self._calibration is None:
            self._calibration = (-1.0, 1.0)
