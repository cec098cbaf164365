"""The strategies by name. Adding a strategy: one module with a ``Strategy`` subclass, and one line here (or,
from another distribution, one ``limner.strategies`` entry point: ``limner.tools.plugins``)."""

from __future__ import annotations

from limner.tools.search.base import Strategy
from limner.tools.search.paths import PathSearch
from limner.tools.search.random import RandomSearch
from limner.tools.search.reno import ReNO
from limner.tools.search.zero_order import ZeroOrderSearch

from limner.tools.plugins import extend


def _adapt(name: str, loaded) -> Strategy:
    strategy = loaded() if isinstance(loaded, type) else loaded
    if not isinstance(strategy, Strategy):
        raise TypeError(f"{loaded!r} is not a limner.tools.search.Strategy")
    strategy.name = name
    return strategy


BUILTIN: dict[str, Strategy] = {s.name: s for s in (RandomSearch(), ZeroOrderSearch(), PathSearch(), ReNO())}
STRATEGIES: dict[str, Strategy] = extend("strategies", dict(BUILTIN), _adapt)
