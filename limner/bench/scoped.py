"""Environment variables set for the length of a ``with`` block (the reliability bench's sections)."""

from __future__ import annotations

import os
from contextlib import contextmanager


def _apply(values: dict[str, str | None]) -> None:
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@contextmanager
def scoped_env(values: dict[str, str | None]):
    """Set (a string) or unset (None) each variable; put every one back as it was afterwards."""
    saved = {k: os.environ.get(k) for k in values}
    try:
        _apply(values)
        yield
    finally:
        _apply(saved)
