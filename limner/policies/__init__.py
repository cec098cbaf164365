"""Shipped policies as YAML data files; ``limner.agent.policy.load_policy`` reads them."""

from __future__ import annotations

from importlib import resources


def names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files(__name__).iterdir() if p.name.endswith(".yaml"))


def read(name: str) -> str | None:
    path = resources.files(__name__) / f"{name}.yaml"
    return path.read_text(encoding="utf-8") if path.is_file() else None
