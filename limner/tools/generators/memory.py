"""Batches that do not fit in accelerator memory: split them and retry, and remember the size that fits.

A round asks for N candidates in one pipeline call. When that call runs out of memory, ``split_on_oom``
halves the batch and goes on with the halves, down to one candidate; the largest size that worked is kept
per (model, device, dtype, size) for the rest of the process, so later rounds start there instead of failing
again. Only a single candidate that does not fit is an error, and it says what to change.

The forward passes of a call that failed still ran: they are counted, and reported apart.
"""

from __future__ import annotations

from typing import Callable

_FITS: dict[tuple, int] = {}  # (source, device, dtype, height, width) -> largest batch known to fit


class OutOfMemory(RuntimeError):
    """Even one candidate does not fit in the accelerator's memory."""


def is_oom(exc: BaseException) -> bool:
    import torch

    oom = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    return isinstance(exc, oom) or (isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower())


def _free() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def fitting_batch(key: tuple) -> int | None:
    """The largest batch that fitted after an out-of-memory error, or None when none happened."""
    return _FITS.get(key)


def forget(key: tuple | None = None) -> None:
    """Forget the remembered sizes (after freeing memory, or in tests)."""
    if key is None:
        _FITS.clear()
    else:
        _FITS.pop(key, None)


def split_on_oom(call: Callable[[int, int], tuple], n: int, key: tuple) -> tuple[list, int, float, int, list]:
    """Run ``call(lo, hi)`` over ``0..n`` in the largest chunks that fit. ``call`` returns
    ``(images, nfe, seconds)`` for candidates ``lo..hi-1``, and may raise an out-of-memory error.

    Returns ``(images, nfe, seconds, lost_nfe, chunks)``: the images in order, all forward passes run (those
    of the failed calls included), the seconds of all calls, the forward passes of the failed calls, and the
    ``(lo, hi)`` of each call that made images (a candidate is reproduced by rerunning its chunk).
    """
    size = min(n, _FITS.get(key, n)) or 1
    images: list = []
    nfe = lost = 0
    seconds = 0.0
    lo = 0
    chunks: list[tuple[int, int]] = []
    while lo < n:
        hi = min(n, lo + size)
        try:
            got, used, spent = call(lo, hi)
        except Exception as exc:
            if not is_oom(exc):
                raise
            used = getattr(exc, "limner_nfe", 0)  # set by ``counted_call``: passes run before the error
            nfe, lost = nfe + used, lost + used
            _free()
            if hi - lo == 1:
                raise OutOfMemory("one candidate does not fit in the accelerator's memory: use a smaller image size, "
                                  "half precision (--dtype float16 or bfloat16), or a smaller model") from None
            size = (hi - lo + 1) // 2  # half, rounded up: 3 candidates go on as 2 + 1
            _FITS[key] = size
            continue
        images += got
        nfe += used
        seconds += spent
        chunks.append((lo, hi))
        lo = hi
    return images, nfe, seconds, lost, chunks
