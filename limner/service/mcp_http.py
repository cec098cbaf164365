"""MCP over streamable HTTP at ``/mcp``: the same tools as ``limner mcp`` (stdio), run on the service's worker.

A tool may read input images only from the service's runs folder (a remote client must not name the server's
files), and its runs go into that folder, where the job API and the file routes find them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class McpMount:
    routes: list  # the route that answers /mcp, to add to the service's app
    session_manager: object  # run it in the service's lifespan


def mcp_app(service) -> McpMount:
    from mcp.server.transport_security import TransportSecuritySettings

    from limner.agent.integrations.mcp import build_server

    out = str(service.out)
    server = build_server(out, allow_read=[out], execute=service.worker.call, settings=service.settings)
    host = service.config.host
    security = None
    if service.config.is_loopback():  # DNS rebinding: a page in a browser must not reach a loopback server
        security = TransportSecuritySettings(enable_dns_rebinding_protection=True,
                                             allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
                                             allowed_origins=["http://127.0.0.1:*", "http://localhost:*",
                                                              "http://[::1]:*"])
    app = server.streamable_http_app(streamable_http_path="/mcp", transport_security=security, host=host)
    return McpMount(routes=list(app.routes), session_manager=server.session_manager)
