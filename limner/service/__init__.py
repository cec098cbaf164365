"""``limner serve``: Limner as one long-lived HTTP service that keeps its models warm.

Every front door over HTTP is a router on one app (``app.build_app``): the OpenAI Images API
(``routers/images.py``), A1111's txt2img (``routers/a1111.py``), the job API with live events and cancel
(``routers/runs.py``), a run's files (``routers/files.py``) and MCP over streamable HTTP (``mcp_http.py``). They
all hand work to one generation worker (``jobs.Worker``) through a durable queue kept in the runs folder
(``jobs.JobStore``): the HTTP side never runs a pipeline, and a queued job survives a restart.
"""

from __future__ import annotations

__all__ = ["ServiceConfig", "build_app"]


def __getattr__(name: str):
    if name == "ServiceConfig":
        from limner.service.config import ServiceConfig

        return ServiceConfig
    if name == "build_app":
        from limner.service.app import build_app

        return build_app
    raise AttributeError(f"module 'limner.service' has no attribute {name!r}")
