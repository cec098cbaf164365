"""Weights loaded once per process, under one lock: verifiers score concurrently (threads), and transformers'
lazy imports and ``from_pretrained`` are not safe to run from two threads at once (an import can fail
half-done). Runs in a batch, a chat or a server share what is loaded."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable

LOAD_LOCK = threading.RLock()
_LOADED: dict[tuple, object] = {}


def missing_weights_message(model_id: str, exc: Exception) -> str:
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes"}
    if offline and not Path(model_id).exists():
        return (f"weights '{model_id}' are not in the local Hugging Face cache and HF_HUB_OFFLINE=1: "
                "download them once online, or pass a local folder")
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"cannot load weights '{model_id}': {first}"


def load_once(key: tuple, model_id: str, load: Callable[[], object]):
    """``load()``'s result for ``key``, made once per process; weights that cannot be found become the one-line
    missing-weights message (a ``RuntimeError``)."""
    with LOAD_LOCK:
        if key not in _LOADED:
            try:
                _LOADED[key] = load()
            except OSError as exc:
                raise RuntimeError(missing_weights_message(model_id, exc)) from None
        return _LOADED[key]
