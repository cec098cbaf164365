"""Where Limner keeps its files: ``$LIMNER_HOME``, else ``$XDG_DATA_HOME/limner``, else ``~/.local/share/limner``."""

from __future__ import annotations

import os
from pathlib import Path


def limner_home() -> Path:
    from limner.tools.settings import load_settings

    home = load_settings().home
    if home:
        return Path(home).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")  # the XDG base directory spec's variable, not Limner's
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "limner"


def models_dir() -> Path:
    return limner_home() / "models"
