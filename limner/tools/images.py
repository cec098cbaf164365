"""Image conversions and hashing shared by tools (one place, so images are converted once)."""

from __future__ import annotations

import base64
import hashlib
import io


def to_tensor(images: list):
    """PIL images of one size -> float tensor (N, 3, H, W) in [0, 1]."""
    import numpy as np
    import torch

    arr = np.stack([np.asarray(im.convert("RGB"), dtype=np.uint8) for im in images])
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float().div_(255.0)


def png_bytes(image, pnginfo=None, compress_level: int = 1) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", pnginfo=pnginfo, compress_level=compress_level)
    return buf.getvalue()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def data_url(image) -> str:
    """A PNG data URL, as OpenAI-compatible vision endpoints take it."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(image, compress_level=6)).decode("ascii")


MAX_INPUT_PIXELS = 8192 * 8192  # an input image larger than this is refused before it is decoded


class _TooLarge(ValueError):
    pass


def read_input_image(path, what: str = "image", mode: str = "RGB"):
    """A person's image file, decoded and converted to ``mode``; ``ValueError`` with one line for anything that
    is not a readable image of a sane size (missing, a folder, empty, truncated, not an image, a decompression
    bomb), before it is decoded in full."""
    import warnings
    from pathlib import Path

    from PIL import Image, UnidentifiedImageError

    path = Path(path).expanduser()
    if not path.exists():
        raise ValueError(f"{what} {path} does not exist")
    if not path.is_file():
        raise ValueError(f"{what} {path} is not a file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size
                if w < 1 or h < 1 or w * h > MAX_INPUT_PIXELS:
                    raise _TooLarge(f"{what} {path} is {w}x{h}: Limner reads images of at most "
                                     f"{MAX_INPUT_PIXELS // 1_000_000} megapixels")
                return im.convert(mode)
    except _TooLarge:
        raise
    except (OSError, ValueError, UnidentifiedImageError, SyntaxError, Image.DecompressionBombError,
            Image.DecompressionBombWarning, EOFError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"cannot read {what} {path}: {reason}") from None
