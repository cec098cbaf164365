"""Preservation: whether an edit of a region left everything outside that region as it was.

An edit is verified twice: inside its region by the plan's checks, outside it by this. The measure is local,
so that one small object changed in a corner is not averaged away by a large untouched background: the part
of the image outside the region (less a band along its edge, where an inpainting's soft mask blends) is cut
into overlapping windows, and the worst window's mean absolute difference from the source (the largest of the
three channels, 0-255) must stay at or under ``MAX_WINDOW_DIFF``. PSNR over the whole outside is reported too.

``MAX_WINDOW_DIFF`` is calibrated by ``limner bench preservation`` on a development set (shapes scenes and
photographs, with imperceptible changes that must pass: JPEG re-encoding, sensor-like noise, a slight blur or
brightness shift, and changes that must fail: an object added, removed, recoloured or moved outside the region,
a patch of a photograph replaced, a whole-image img2img pass) and reported on a held-out test set;
``benchmarks/results/preservation.json`` holds both.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

MAX_WINDOW_DIFF = 14.4  # calibrated on dev (midpoint of worst kept 9.83, mildest broken 19.06): see the module docstring and benchmarks/results/preservation.json
MIN_OUTSIDE = 0.5  # a window counts when at least this share of its pixels lies outside the region (and band)
QUESTION = "is everything outside the edited region kept as it was?"


@dataclass
class Preservation:
    passed: bool
    worst_window: float  # the largest mean absolute difference of a window outside the region (0-255)
    worst_box: list[float] | None  # that window, as fractions of the image
    psnr: float  # over every pixel outside the region and band (inf: identical)
    outside: float  # share of the image that was compared
    threshold: float
    band_px: int

    def to_dict(self) -> dict:
        d = asdict(self)
        d["psnr"] = None if not np.isfinite(self.psnr) else round(self.psnr, 3)
        d["worst_window"] = round(self.worst_window, 3)
        return d


def _arr(image) -> np.ndarray:
    return np.asarray(image.convert("RGB") if hasattr(image, "convert") else image, dtype=np.float32)


def window_size(width: int, height: int) -> int:
    """The window side: 1/8 of the shorter side on small images, 1/16 on large ones, at least 8 pixels."""
    side = min(width, height)
    return max(8, side // 8 if side <= 256 else side // 16)


def smoothing(width: int, height: int) -> float:
    """The Gaussian blur (sigma, pixels) both images get before they are compared: it forgives what the eye
    does not see (JPEG's ringing and chroma blocks, a resampling's softened edges) and keeps what it does."""
    return max(1.0, min(width, height) / 128)


def _smooth(a: np.ndarray, sigma: float) -> np.ndarray:
    radius = int(3 * sigma)
    x = np.arange(-radius, radius + 1, dtype=np.float32)
    k = np.exp(-x ** 2 / (2 * sigma ** 2))
    k /= k.sum()
    pad = np.pad(a, ((radius, radius), (radius, radius), (0, 0)), mode="edge")
    rows = sum(k[i] * pad[i:i + a.shape[0]] for i in range(len(k)))
    return sum(k[i] * rows[:, i:i + a.shape[1]] for i in range(len(k)))


def band_size(width: int, height: int, feather: int = 2) -> int:
    """Pixels along the region's edge left out: an inpainting's soft edge (``feather``) and a margin."""
    return feather + max(2, min(width, height) // 64)


def _dilate(region: np.ndarray, px: int) -> np.ndarray:
    out = region.copy()
    for _ in range(px):  # a square structuring element, one pixel at a time: cheap for a few pixels
        grown = out.copy()
        grown[1:, :] |= out[:-1, :]
        grown[:-1, :] |= out[1:, :]
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        out = grown
    return out


def preservation(source, edited, region, *, threshold: float = MAX_WINDOW_DIFF, feather: int = 2) -> Preservation:
    """Compare ``edited`` with ``source`` outside ``region`` (a PIL ``L`` mask or a bool array, true/white =
    the part the edit may change). Images are PIL images or HxWx3 arrays of the same size."""
    a, b = _arr(source), _arr(edited)
    if a.shape != b.shape:
        raise ValueError(f"the edited image is {b.shape[1]}x{b.shape[0]}, the source {a.shape[1]}x{a.shape[0]}")
    h, w = a.shape[:2]
    inside = np.asarray(region) > 127 if not isinstance(region, np.ndarray) or region.dtype != bool else region
    if inside.shape != (h, w):
        raise ValueError(f"the region is {inside.shape[1]}x{inside.shape[0]}, the image {w}x{h}")
    sigma = smoothing(w, h)
    band = band_size(w, h, feather) + int(2 * sigma)  # what the smoothing carries out of the region, too
    outside = ~_dilate(inside, band)
    diff = np.abs(_smooth(a, sigma) - _smooth(b, sigma)).mean(axis=2)
    share = float(outside.mean())
    if not outside.any():
        return Preservation(True, 0.0, None, float("inf"), 0.0, threshold, band)
    mse = float((((a - b) ** 2).mean(axis=2))[outside].mean())
    psnr = float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)
    win = window_size(w, h)
    stride = max(1, win // 2)
    # sums over every window at once: integral images of the masked difference and of the mask
    d = np.pad((diff * outside).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    m = np.pad(outside.astype(np.float64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    ys = np.arange(0, max(1, h - win + 1), stride)
    xs = np.arange(0, max(1, w - win + 1), stride)
    y0, x0 = np.meshgrid(ys, xs, indexing="ij")
    y1, x1 = np.minimum(y0 + win, h), np.minimum(x0 + win, w)

    def box_sum(t):
        return t[y1, x1] - t[y0, x1] - t[y1, x0] + t[y0, x0]

    count, total = box_sum(m), box_sum(d)
    area = (y1 - y0) * (x1 - x0)
    valid = count >= MIN_OUTSIDE * area
    if not valid.any():
        worst, where = float(diff[outside].mean()), None
    else:
        means = np.where(valid, total / np.maximum(count, 1), -1.0)
        k = np.unravel_index(int(means.argmax()), means.shape)
        worst = float(means[k])
        where = [round(x0[k] / w, 4), round(y0[k] / h, 4), round(x1[k] / w, 4), round(y1[k] / h, 4)]
    return Preservation(worst <= threshold, worst, where, psnr, round(share, 4), threshold, band)


def as_score(result: Preservation) -> dict:
    """The candidate's ``scores["preservation"]`` record: one check, answered, with the worst window's box as
    the failure's place (a report draws it like a failed object's)."""
    record = {"id": "preserved", "question": QUESTION, "kind": "preserved", "object": None,
              "answer": round(result.worst_window, 3), "counted": 1.0 if result.passed else 0.0,
              "passed": result.passed, "skipped_by_parent": False,
              **({"box": result.worst_box} if not result.passed and result.worst_box else {})}
    return {"score": 1.0 if result.passed else 0.0, "raw": round(result.worst_window, 3),
            "detail": {"questions": [record], "preservation": result.to_dict()}}
