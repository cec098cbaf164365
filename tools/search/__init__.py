"""Inference-time search over initial noise: strategies usable alone or as the agent's actions.

Adding a strategy: one module with a ``Strategy`` subclass, and one line in ``STRATEGIES``.

    from limner.tools.search import search
    outcome = search("zero_order", generator, "a red circle", scorer=my_scorer, nfe_budget=640)
    outcome.best_image.save("best.png")
"""

from __future__ import annotations

from limner.tools.search.base import Found, RoundResult, SearchContext, SeedSource, Strategy


def _strategies() -> dict[str, Strategy]:
    from limner.tools.search.paths import PathSearch
    from limner.tools.search.random import RandomSearch
    from limner.tools.search.reno import ReNO
    from limner.tools.search.zero_order import ZeroOrderSearch

    return {s.name: s for s in (RandomSearch(), ZeroOrderSearch(), PathSearch(), ReNO())}


STRATEGIES: dict[str, Strategy] = _strategies()


def search(*args, **kwargs):
    from limner.tools.search.loop import search as run

    return run(*args, **kwargs)


__all__ = ["STRATEGIES", "Found", "RoundResult", "SearchContext", "SeedSource", "Strategy", "search"]
