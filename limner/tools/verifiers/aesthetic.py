"""The LAION aesthetic predictor (improved, v2): an MLP on normalised CLIP ViT-L/14 image embeddings.

MLP weights: a file path or ``repo_id:filename`` (default ``camenduru/improved-aesthetic-predictor:
sac+logos+ava1-l14-linearMSE.pth``). Raw score: the predictor's 1-10 rating (typical photos 4-7).
Calibration: ``(raw - 3.5) / (7.5 - 3.5)``, clamped. The prompt is not used.
"""

from __future__ import annotations

from limner.tools.verifiers.clip_base import CLIPReward
from limner.tools.verifiers.hpsv2 import load_checkpoint

MLP_WEIGHTS = "camenduru/improved-aesthetic-predictor:sac+logos+ava1-l14-linearMSE.pth"


def make_mlp(dim: int):
    import torch.nn as nn

    class AestheticMLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.Sequential(
                nn.Linear(dim, 1024), nn.Dropout(0.2), nn.Linear(1024, 128), nn.Dropout(0.2),
                nn.Linear(128, 64), nn.Dropout(0.1), nn.Linear(64, 16), nn.Linear(16, 1),
            )

        def forward(self, x):
            return self.layers(x)

    return AestheticMLP()


class Aesthetic(CLIPReward):
    name = "aesthetic"
    default_model = "openai/clip-vit-large-patch14"
    default_calibration = (3.5, 7.5)

    def __init__(self, model: str | None = None, mlp: str | None = None, **kwargs):
        super().__init__(model, **kwargs)
        self.mlp_weights = mlp or MLP_WEIGHTS
        self._mlp = None

    def describe(self) -> dict:
        return {**super().describe(), "mlp": self.mlp_weights}

    def raw_scores(self, pixels, prompts):
        if self._mlp is None:
            self._load()
            state = load_checkpoint(self.mlp_weights)
            mlp = make_mlp(state["layers.0.weight"].shape[1])
            mlp.load_state_dict(state)
            self._mlp = mlp.eval().requires_grad_(False).to(self.device)
        return self._mlp(self.image_embeds(pixels)).squeeze(-1)
