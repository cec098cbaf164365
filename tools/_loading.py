"""One lock for loading weights: verifiers score concurrently (threads), and transformers' lazy imports and
``from_pretrained`` are not safe to run from two threads at once (an import can fail half-done)."""

import threading

LOAD_LOCK = threading.RLock()
