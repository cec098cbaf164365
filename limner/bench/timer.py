"""Timing the models' own compute: hooks around forward passes, and the statistics the benchmarks print.

``ComputeTimer`` wraps a pipeline's denoiser, text encoders and VAE decode, and any callable (a verifier's
``score``). Whatever those take is *model compute*; the rest of a run's wall time is the agent's overhead.
On CUDA it synchronises around each timed call, so the time is the kernels' and not the launch's.
"""

from __future__ import annotations

import statistics
import time
from contextlib import contextmanager


def _sync(device) -> None:
    if getattr(device, "type", str(device)) == "cuda":
        import torch

        torch.cuda.synchronize()


class ComputeTimer:
    """Seconds spent inside timed modules and callables, by kind (``denoiser``, ``text_encoder``, ``vae``, ...)."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._undo: list = []
        self._depth = 0  # nested timed calls (a verifier that runs a timed module) count once

    def _add(self, kind: str, dt: float) -> None:
        self.seconds[kind] = self.seconds.get(kind, 0.0) + dt
        self.calls[kind] = self.calls.get(kind, 0) + 1

    def wrap(self, owner, attr: str, kind: str, device=None) -> None:
        """Time every call of ``owner.attr`` (an instance or a class attribute) as ``kind``."""
        original = getattr(owner, attr)
        timer = self

        def timed(*args, **kwargs):
            if timer._depth:
                return original(*args, **kwargs)
            timer._depth += 1
            _sync(device)
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                _sync(device)
                timer._depth -= 1
                timer._add(kind, time.perf_counter() - start)

        own = attr in vars(owner)
        setattr(owner, attr, timed)
        self._undo.append(lambda: setattr(owner, attr, original) if own else delattr(owner, attr))

    def time_pipeline(self, pipe) -> None:
        """The denoiser, every text encoder, and the VAE's decode (and encode, for edits)."""
        device = getattr(pipe, "device", None)
        denoiser = getattr(pipe, "unet", None) or getattr(pipe, "transformer", None)
        self.wrap(denoiser, "forward", "denoiser", device)
        for name in ("text_encoder", "text_encoder_2", "text_encoder_3"):
            module = getattr(pipe, name, None)
            if module is not None:
                self.wrap(module, "forward", "text_encoder", device)
        vae = getattr(pipe, "vae", None)
        if vae is not None:
            self.wrap(vae, "decode", "vae", device)
            self.wrap(vae, "encode", "vae", device)

    @property
    def total(self) -> float:
        return sum(self.seconds.values())

    def restore(self) -> None:
        while self._undo:
            self._undo.pop()()


@contextmanager
def timing(timer: ComputeTimer):
    try:
        yield timer
    finally:
        timer.restore()


def summary(values: list[float]) -> dict:
    """Median with the spread (min, max, and the interquartile range when there are 4 or more)."""
    values = sorted(values)
    out = {"median": statistics.median(values), "min": values[0], "max": values[-1], "n": len(values)}
    if len(values) >= 4:
        q = statistics.quantiles(values, n=4)
        out["iqr"] = [q[0], q[2]]
    return out


def fmt(s: dict, unit: str = "", scale: float = 1.0, digits: int = 3) -> str:
    return (f"{s['median'] * scale:.{digits}f}{unit} "
            f"[{s['min'] * scale:.{digits}f}-{s['max'] * scale:.{digits}f}]")
