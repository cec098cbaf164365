"""Settings from the environment: the one object that owns every ``LIMNER_*`` variable lives in
``limner.tools.settings`` (the lower layer reads it too); this module is its name in the agent."""

from __future__ import annotations

from limner.tools.settings import Settings, load_settings

__all__ = ["Settings", "load_settings"]
