"""Third-party models, verifiers and search strategies, found through entry points.

A distribution adds one by declaring it in its ``pyproject.toml``::

    [project.entry-points."limner.verifiers"]
    brightness = "my_pkg.brightness:Brightness"      # a verifier class (or a Declared, or a factory)
    [project.entry-points."limner.strategies"]
    greedy = "my_pkg.greedy:Greedy"                  # a tools.search.Strategy subclass (or instance)
    [project.entry-points."limner.models"]
    my-model = "my_pkg.models:SPEC"                  # a ModelSpec (or a list of them)

Limner's own built-ins are declared the same way in its ``pyproject.toml`` (tested: the two lists cannot drift)
and also listed in code, so a source checkout that was never installed still has them. A plugin cannot
replace a built-in of the same name: it is skipped, and ``skipped()`` says so.
"""

from __future__ import annotations

from importlib.metadata import entry_points

GROUPS = {"models": "limner.models", "verifiers": "limner.verifiers", "strategies": "limner.strategies"}
_SKIPPED: list[str] = []
_TABLES: list["PluginTable"] = []


def found(kind: str) -> list:
    """The entry points of one kind (``models``, ``verifiers``, ``strategies``), installed in this environment."""
    return list(entry_points(group=GROUPS[kind]))


class PluginTable(dict):
    """A registry: the built-ins, and the plugins of one kind added on first use (not at import, so a plugin
    module may import Limner's modules without a circular import)."""

    def __init__(self, kind: str, builtins: dict, adapt):
        super().__init__({name: adapt(name, value) for name, value in builtins.items()})
        self._kind, self._adapt, self._loaded = kind, adapt, False
        _TABLES.append(self)

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True  # first: a plugin that reads this table while it loads sees the built-ins
            _add_plugins(self._kind, self, self._adapt)

    def __getitem__(self, key):
        self._load()
        return super().__getitem__(key)

    def __setitem__(self, key, value) -> None:  # an entry added in code is adapted as a plugin's would be
        super().__setitem__(key, self._adapt(key, value))

    def __contains__(self, key) -> bool:
        self._load()
        return super().__contains__(key)

    def __iter__(self):
        self._load()
        return super().__iter__()

    def __len__(self) -> int:
        self._load()
        return super().__len__()

    def get(self, key, default=None):
        self._load()
        return super().get(key, default)

    def keys(self):
        self._load()
        return super().keys()

    def values(self):
        self._load()
        return super().values()

    def items(self):
        self._load()
        return super().items()


def extend(kind: str, table: dict, adapt) -> PluginTable:
    """``table`` (the built-ins) with every third-party entry point of ``kind`` (``adapt(name, loaded) -> value``)
    added when the table is first read."""
    return PluginTable(kind, table, adapt)


def _add_plugins(kind: str, table: dict, adapt, builtin_module: str = "limner.") -> None:
    for ep in found(kind):
        if ep.value.startswith(builtin_module):
            continue  # Limner's own: already in the table
        if dict.__contains__(table, ep.name):
            _SKIPPED.append(f"{kind} plugin '{ep.name}' ({ep.value}) skipped: a built-in has that name")
            continue
        try:
            dict.__setitem__(table, ep.name, adapt(ep.name, ep.load()))
        except Exception as exc:  # a broken plugin must not break Limner: it is reported, not loaded
            _SKIPPED.append(f"{kind} plugin '{ep.name}' ({ep.value}) could not be loaded: {type(exc).__name__}: {exc}")


def skipped() -> list[str]:
    """Plugins that were found but not loaded, with the reason (after the registries were first read)."""
    for table in _TABLES:
        table._load()
    return list(_SKIPPED)
