"""Initial noise: one explicit Gaussian tensor per candidate, drawn from that candidate's own seed.

Noise is always drawn on the CPU in float32 and then moved, so a seed gives the
same noise on every device, alone or in a batch.
"""

from __future__ import annotations


def gaussian(seed: int, shape: tuple[int, ...]):
    import torch

    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    return torch.randn(shape, generator=gen, dtype=torch.float32)


def batch_noise(seeds: list[int], shape: tuple[int, ...]):
    """Stack one noise tensor of ``shape`` (without batch dim) per seed."""
    import torch

    return torch.stack([gaussian(s, shape) for s in seeds])


def derive_seed(base_seed: int, index: int) -> int:
    """The seed of the ``index``-th candidate of a run: documented so any candidate can be re-derived."""
    return (int(base_seed) + 1_000_003 * int(index)) % (2**63 - 1)
