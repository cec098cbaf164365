"""The verifier interface: images and prompts in, one score in [0, 1] per image out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass
class Score:
    score: float  # calibrated to [0, 1]; higher is better
    raw: float | dict  # the verifier's own number (or per-criterion scores) before calibration
    detail: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"score": self.score, "raw": self.raw, **({"detail": self.detail} if self.detail else {})}


@runtime_checkable
class Verifier(Protocol):
    name: str
    differentiable: bool
    llm_calls_per_image: int  # calls to an LLM endpoint per scored image (counted against the LLM budget)

    def score(self, images: list, prompts: list[str]) -> list[Score]:
        """Score each image against its prompt; the result keeps the order of ``images``."""
        ...


def clamp01(x: float) -> float:
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else float(x)


def linear_calibration(raw: float, low: float, high: float) -> float:
    """Map ``raw`` linearly so that ``low`` -> 0 and ``high`` -> 1, clamped to [0, 1]."""
    return clamp01((raw - low) / (high - low))
