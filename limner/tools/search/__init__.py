"""Inference-time search over initial noise: strategies usable alone or as the agent's actions.

Adding a strategy: one module with a ``Strategy`` subclass, and one line in ``registry.STRATEGIES``.

    from limner.tools.search import search
    outcome = search("zero_order", generator, "a red circle", scorer=my_scorer, nfe_budget=640)
    outcome.best_image.save("best.png")
"""

from __future__ import annotations

from limner.tools.search.base import Found, RoundResult, SearchContext, SeedSource, Strategy
from limner.tools.search.loop import search
from limner.tools.search.registry import STRATEGIES


__all__ = ["STRATEGIES", "Found", "RoundResult", "SearchContext", "SeedSource", "Strategy", "search"]
