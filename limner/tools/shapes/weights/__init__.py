"""Weights trained by ``training.train_shapes`` and shipped inside the package (see each folder's MODEL_CARD.md)."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent


def shipped_model(name: str) -> Path:
    """The folder of a shipped model (``shapes-tiny``, ``shapes-clip``)."""
    from limner.tools.generators.model_files import ModelUnavailable

    folder = HERE / name
    if not folder.is_dir() or not any(folder.iterdir()):
        raise ModelUnavailable(f"the shipped weights of '{name}' are missing from {folder}: reinstall limner, "
                               f"or, in a source checkout, train them with `python -m training.train_shapes`")
    return folder
