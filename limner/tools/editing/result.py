"""What an editing tool returns."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class EditResult:
    images: list  # PIL images, one per seed, in the order of the seeds
    nfe: int  # denoiser forward passes, per sample, summed over the batch
    seconds: float
    params: dict = field(default_factory=dict)  # what was done, JSON-safe (for the manifest)
