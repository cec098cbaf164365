"""Prompt templates as data files, read with ``importlib.resources``.

``load("plan_system")`` returns the text of ``plan_system.md``; ``render(name, **values)``
fills ``{placeholders}`` with ``str.format``.
"""

from __future__ import annotations

from importlib import resources


def load(name: str) -> str:
    for suffix in (".md", ".yaml"):
        path = resources.files(__name__) / f"{name}{suffix}"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    raise FileNotFoundError(f"no prompt template named '{name}' in the prompts package")


def render(name: str, **values) -> str:
    return load(name).format(**values)
