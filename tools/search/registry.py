"""The strategies by name. Adding a strategy: one module with a ``Strategy`` subclass, and one line here."""

from __future__ import annotations

from limner.tools.search.base import Strategy
from limner.tools.search.paths import PathSearch
from limner.tools.search.random import RandomSearch
from limner.tools.search.reno import ReNO
from limner.tools.search.zero_order import ZeroOrderSearch

STRATEGIES: dict[str, Strategy] = {s.name: s for s in (RandomSearch(), ZeroOrderSearch(), PathSearch(), ReNO())}
