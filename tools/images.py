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
