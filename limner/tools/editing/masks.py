"""Masks for editing: a box or a user's mask file -> a soft mask, and the composite that keeps the rest.

A mask is a PIL ``L`` image of the image's size, 255 where the edit may change pixels. ``soften`` grows it
by ``feather`` pixels with a linear fall-off; ``composite`` takes edited pixels where the soft mask is
positive and the original's pixels, unchanged, everywhere else.
"""

from __future__ import annotations


def box_mask_image(size: tuple[int, int], box) -> "object":
    """A hard mask for ``box`` = [x0, y0, x1, y1] as fractions of the image (``ValueError`` if invalid)."""
    from PIL import Image, ImageDraw

    from limner.tools.generators.regional import check_box

    x0, y0, x1, y1 = check_box(box)
    w, h = size
    mask = Image.new("L", (w, h), 0)
    px = [round(x0 * w), round(y0 * h), round(x1 * w) - 1, round(y1 * h) - 1]
    if px[2] < px[0] or px[3] < px[1]:
        raise ValueError(f"box {list(box)} covers no pixel of a {w}x{h} image")
    ImageDraw.Draw(mask).rectangle(px, fill=255)
    return mask


def load_mask(path, size: tuple[int, int]):
    """A mask file (white = edit), which must have the image's size (``ValueError`` otherwise)."""
    from limner.tools.images import read_input_image

    mask = read_input_image(path, "mask", mode="L")
    if mask.size != tuple(size):
        raise ValueError(f"mask {path} is {mask.size[0]}x{mask.size[1]}, the image is {size[0]}x{size[1]}")
    mask = mask.point(lambda v: 255 if v >= 128 else 0)
    if not mask.getbbox():
        raise ValueError(f"mask {path} is empty: paint the area to edit white")
    return mask


def mask_bbox(path) -> list[float] | None:
    """The bounding box of a mask file's white part (>= 128), as fractions of its size; None when it is empty."""
    from PIL import Image

    with Image.open(path) as m:
        bw = m.convert("L").point(lambda v: 255 if v >= 128 else 0)
        bbox, (w, h) = bw.getbbox(), bw.size
    return None if bbox is None else [bbox[0] / w, bbox[1] / h, bbox[2] / w, bbox[3] / h]


def soften(mask, feather: int):
    """The mask grown by ``feather`` pixels, falling off linearly to 0 at that distance."""
    import numpy as np
    from PIL import Image, ImageFilter

    current = mask.point(lambda v: 255 if v >= 128 else 0)
    total = np.asarray(current, dtype=np.float32)
    for _ in range(max(0, feather)):  # each 3x3 max filter grows the mask by one pixel (Chebyshev distance)
        current = current.filter(ImageFilter.MaxFilter(3))
        total = total + np.asarray(current, dtype=np.float32)
    alpha = total / (max(0, feather) + 1)
    return Image.fromarray(alpha.round().astype(np.uint8))


def composite(original, edited, soft_mask):
    """Edited pixels inside the soft mask, the original's pixels (bit for bit) where it is 0."""
    import numpy as np
    from PIL import Image

    a = np.asarray(soft_mask, dtype=np.float32)[..., None] / 255.0
    o = np.asarray(original.convert("RGB"), dtype=np.float32)
    e = np.asarray(edited.convert("RGB").resize(original.size), dtype=np.float32)
    out = np.where(a > 0, np.round(o * (1 - a) + e * a), o)
    return Image.fromarray(out.astype(np.uint8))
