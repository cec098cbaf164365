"""The service's app, declared in one place: its routers, its guards (API key, body size, CORS), its errors.

Every error answers in OpenAI's shape (``{"error": {"message", "type", "param", "code"}}``) with a 4xx for what a
client can fix; nothing answers a traceback. ``GET /health`` and the studio's static page (``/``, ``/studio/...``)
are the routes open without the API key.
"""

from __future__ import annotations

import hmac
import logging
from contextlib import asynccontextmanager

from limner.service.config import ServiceConfig

log = logging.getLogger("limner.service")


def error_json(status: int, message: str, code: str | None = None, param: str | None = None):
    from starlette.responses import JSONResponse

    kind = "invalid_request_error" if status < 500 else "server_error"
    if status == 401:
        kind = "authentication_error"
    return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": code}}, status)


OPEN_PATHS = ("/health", "/", "/studio/studio.js", "/studio/studio.css")  # no data, no secret: open without the key


class Guard:
    """ASGI middleware: the API key (bearer token, compared in constant time) and the body size limit."""

    def __init__(self, app, key: str | None, max_body: int):
        self.app, self.key, self.max_body = app, key.encode() if key else None, max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        if self.key is not None and scope["path"] not in OPEN_PATHS:
            given = headers.get(b"authorization", b"")
            token = given[7:] if given[:7].lower() == b"bearer " else b""
            if not hmac.compare_digest(token, self.key):
                return await error_json(401, "missing or wrong API key: send 'Authorization: Bearer KEY'",
                                        "invalid_api_key")(scope, receive, send)
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            return await error_json(413, f"the request body is larger than this server takes "
                                         f"({self.max_body // 2**20} MiB)", "body_too_large")(scope, receive, send)
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise _TooLarge()
            return message

        try:
            return await self.app(scope, limited, send)
        except _TooLarge:
            return await error_json(413, "the request body is larger than this server takes", "body_too_large")(
                scope, receive, send)


class _TooLarge(Exception):
    pass


def build_app(config: ServiceConfig | None = None):
    """The ASGI app for ``config``; models load lazily, on the first job that needs them."""
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    from importlib.metadata import PackageNotFoundError, version

    try:
        __version__ = version("limner")
    except PackageNotFoundError:  # a checkout that was never installed
        __version__ = "0"
    from limner.service.mcp_http import mcp_app
    from limner.service.routers import a1111, files, images, runs, studio
    from limner.service.runs import RequestError, Runs

    config = config or ServiceConfig()
    service = Runs(config)
    mcp = mcp_app(service)

    @asynccontextmanager
    async def lifespan(app):
        service.start()
        async with mcp.session_manager.run():
            try:
                yield
            finally:
                service.stop()

    app = FastAPI(title="Limner", version=__version__, lifespan=lifespan,
                  description="Plans an image, generates candidates, checks them and repairs them until one passes. "
                              "OpenAI Images API, A1111's txt2img, a job API with live events, MCP at /mcp.")
    app.state.runs = service
    for router in (images.router, a1111.router, runs.router, files.router, studio.router):
        app.include_router(router)

    @app.get("/health", tags=["service"])
    def health() -> dict:
        """Whether the service is up: open without the API key."""
        w = service.worker
        return {"status": "ok", "worker": "alive" if w.thread is not None and w.thread.is_alive() else "stopped",
                "running": w.current}

    @app.exception_handler(RequestError)
    async def refused(request, exc: RequestError):
        return error_json(exc.status, exc.message, exc.code, exc.param)

    @app.exception_handler(RequestValidationError)
    async def invalid(request, exc: RequestValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        return error_json(400, f"{where}: {err.get('msg', 'invalid')}" if where else err.get("msg", "invalid request"),
                          "invalid_request", where or None)

    @app.exception_handler(HTTPException)
    async def http_error(request, exc: HTTPException):
        return error_json(exc.status_code, str(exc.detail), None)

    @app.exception_handler(Exception)
    async def crashed(request, exc: Exception):
        log.exception("request %s %s failed", request.method, request.url.path)
        return error_json(500, f"internal error ({type(exc).__name__}); the server log has the details",
                          "internal_error")

    app.router.routes.extend(mcp.routes)
    if config.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=config.cors_origins, allow_methods=["*"],
                           allow_headers=["*"])
    key = config.api_key.get_secret_value() if config.api_key is not None else None
    app.add_middleware(Guard, key=key, max_body=config.limits.max_body_bytes)
    return app
