"""Structure: whether a restyled image kept the composition of the one it restyled.

A restyle ("make it a watercolour") may change every pixel's colour and texture, so the preservation check
(pixels outside a region) does not apply to it; what it must keep is where things are: the same objects, the
same outlines, nothing new. The measure compares outlines, not colours: both images are smoothed, each one's
colour edges (the largest of the three channels' gradient magnitudes) are kept where they reach ``EDGE_LEVEL``
of that image's own strong edges (its 99th percentile), and an edge pixel of either image with no edge of the
other within ``tolerance`` pixels is *unmatched*. The image is cut into overlapping windows (the preservation
check's size), and the worst window's share of unmatched pixels must stay at or under ``MAX_UNMATCHED``. A new
object, a removed or moved one, or an outline that grew a limb leaves a window of unmatched outline; a change of
palette, contrast or texture mostly moves no outline.

``MAX_UNMATCHED`` is calibrated by ``limner bench structure`` on a development set (shapes scenes and
photographs, under style-like changes that must pass: another palette, posterised, lower contrast, blurred,
painterly median filtering, noise, JPEG; and composition changes that must fail: an object added, removed,
moved or changed in shape, a patch of a photograph replaced, a disc painted on it), and reported on a held-out
test set: ``benchmarks/results/structure.json``. No restyle by a real diffusion model was part of either set, and
on photographs the check fails some looks that keep the composition (posterised, sketched): a model gets it only
where its alias says ``restyle_structure`` (the embedded shapes-tiny).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from limner.tools.verifiers.preservation import _dilate, _smooth, smoothing, window_size

MAX_UNMATCHED = 0.24  # the worst kept development pair of the shapes scenes: see limner/bench/structure.py
EDGE_LEVEL = 0.3  # an edge: at least this share of the image's 99th-percentile edge strength
FAINT = 0.4  # an edge of one image matches a faint one of the other (this share of its edge level): a look
# that weakens an outline (greyscale, lower contrast) keeps it; a texture's edges flickering across the level do not count
QUESTION = "is the composition kept (every outline where it was, nothing new)?"


@dataclass
class Structure:
    passed: bool
    worst_window: float  # the largest share of unmatched outline pixels in a window (0-1)
    worst_box: list[float] | None  # that window, as fractions of the image
    unmatched: float  # share of all outline pixels (of both images) unmatched
    threshold: float
    tolerance_px: int

    def to_dict(self) -> dict:
        d = asdict(self)
        d["worst_window"], d["unmatched"] = round(self.worst_window, 4), round(self.unmatched, 4)
        return d


def tolerance(width: int, height: int) -> int:
    """How far an outline may move and still match: 2 pixels, or 1/128 of the shorter side on large images."""
    return max(2, min(width, height) // 128)


def outline(image: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Where ``image`` (HxWx3, float) has colour edges: bool maps of its edges (at ``EDGE_LEVEL``) and of its
    faint ones too (at ``FAINT`` of that), which an edge of the other image may match."""
    a = _smooth(image, sigma)
    p = np.pad(a, ((1, 1), (1, 1), (0, 0)), mode="edge")
    gx = (p[1:-1, 2:] - p[1:-1, :-2]) * 2 + (p[:-2, 2:] - p[:-2, :-2]) + (p[2:, 2:] - p[2:, :-2])
    gy = (p[2:, 1:-1] - p[:-2, 1:-1]) * 2 + (p[2:, :-2] - p[:-2, :-2]) + (p[2:, 2:] - p[:-2, 2:])
    magnitude = np.sqrt(gx ** 2 + gy ** 2).max(axis=2)
    strong = float(np.percentile(magnitude, 99))
    if strong <= 1e-6:  # a flat image: no outline at all
        none = np.zeros(magnitude.shape, dtype=bool)
        return none, none
    return magnitude >= EDGE_LEVEL * strong, magnitude >= FAINT * EDGE_LEVEL * strong


def structure(source, image, *, threshold: float = MAX_UNMATCHED) -> Structure:
    """Compare the outlines of ``image`` with those of ``source`` (PIL images or HxWx3 arrays; ``image`` is
    resized to ``source``'s size when they differ)."""
    if hasattr(image, "size") and hasattr(source, "size") and not isinstance(image, np.ndarray) \
            and image.size != source.size:
        from PIL import Image

        image = image.resize(source.size, Image.BICUBIC)
    a = np.asarray(source.convert("RGB") if hasattr(source, "convert") else source, dtype=np.float32)
    b = np.asarray(image.convert("RGB") if hasattr(image, "convert") else image, dtype=np.float32)
    if a.shape != b.shape:
        raise ValueError(f"the restyled image is {b.shape[1]}x{b.shape[0]}, the source {a.shape[1]}x{a.shape[0]}")
    h, w = a.shape[:2]
    sigma, near = smoothing(w, h), tolerance(w, h)
    (ea, fa), (eb, fb) = outline(a, sigma), outline(b, sigma)
    unmatched = (ea & ~_dilate(fb, near)) | (eb & ~_dilate(fa, near))
    total = int(ea.sum() + eb.sum())
    share = float(unmatched.sum()) / total if total else 0.0
    win = window_size(w, h)
    stride = max(1, win // 2)
    t = np.pad(unmatched.astype(np.float64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    ys = np.arange(0, max(1, h - win + 1), stride)
    xs = np.arange(0, max(1, w - win + 1), stride)
    y0, x0 = np.meshgrid(ys, xs, indexing="ij")
    y1, x1 = np.minimum(y0 + win, h), np.minimum(x0 + win, w)
    counts = (t[y1, x1] - t[y0, x1] - t[y1, x0] + t[y0, x0]) / ((y1 - y0) * (x1 - x0))
    k = np.unravel_index(int(counts.argmax()), counts.shape)
    worst = float(counts[k])
    where = [round(x0[k] / w, 4), round(y0[k] / h, 4), round(x1[k] / w, 4), round(y1[k] / h, 4)]
    return Structure(worst <= threshold, worst, where if worst > 0 else None, share, threshold, near)


def as_score(result: Structure) -> dict:
    """The candidate's ``scores["structure"]`` record: one check, answered, with the worst window as the
    failure's place."""
    record = {"id": "structure", "question": QUESTION, "kind": "structure", "object": None,
              "answer": round(result.worst_window, 4), "counted": 1.0 if result.passed else 0.0,
              "passed": result.passed, "skipped_by_parent": False,
              **({"box": result.worst_box} if not result.passed and result.worst_box else {})}
    return {"score": 1.0 if result.passed else 0.0, "raw": round(result.worst_window, 4),
            "detail": {"questions": [record], "structure": result.to_dict()}}
