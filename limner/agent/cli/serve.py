"""``limner serve``: the HTTP service (OpenAI Images API, A1111 txt2img, the job API, MCP) on one port."""

from __future__ import annotations

from typing import Optional

import typer

from limner.agent.cli.common import _fail


def serve(host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on. Anything but loopback needs "
                                   "an API key."),
          port: int = typer.Option(8420, "--port", "-p", help="Port to listen on."),
          out: str = typer.Option("limner-runs", "--out", "-o", help="Runs folder: run folders, the job queue."),
          model: Optional[str] = typer.Option(None, "--model", "-m", help="Model for requests that name none."),
          policy: str = typer.Option("default", "--policy", help="Policy for requests that name none."),
          api_key: Optional[str] = typer.Option(None, "--api-key", help="Require 'Authorization: Bearer KEY' on "
                                                "every route but /health (default: LIMNER_SERVE_API_KEY)."),
          cors: Optional[list[str]] = typer.Option(None, "--cors-origin", help="An origin allowed to call from a "
                                                   "browser (repeat for several; default: none)."),
          max_models: int = typer.Option(2, "--max-models", min=1, help="Pipelines kept loaded (LRU)."),
          offload: Optional[str] = typer.Option(None, "--offload", help="CPU offload of pipelines on a GPU: model "
                                                "or sequential."),
          device: Optional[str] = typer.Option(None, "--device", help="cpu, cuda, cuda:1, mps (default: auto)."),
          dtype: Optional[str] = typer.Option(None, "--dtype", help="float32, float16 or bfloat16.")):
    """Serve Limner over HTTP: OpenAI's Images API at /v1/images, A1111's /sdapi/v1/txt2img, the job API at /v1/runs
    (live events, cancel), MCP at /mcp, the OpenAPI document at /openapi.json. Models load on first use and stay
    loaded."""
    try:
        import uvicorn  # noqa: F401
        from fastapi import FastAPI  # noqa: F401
    except ImportError as exc:
        _fail(f"limner serve needs the service extra ({exc.name} is missing): pip install 'limner[serve]'")
    from pydantic import ValidationError

    from limner.service.config import ServiceConfig

    from limner.agent.config import load_settings

    saved = load_settings().serve_api_key
    key = api_key or (saved.get_secret_value() if saved is not None else None)
    try:
        config = ServiceConfig(host=host, port=port, out=out, model=model, policy=policy, api_key=key,
                               cors_origins=cors or [], max_models=max_models, offload=offload, device=device,
                               dtype=dtype)
    except ValidationError as exc:
        err = exc.errors()[0]
        _fail(f"--{'-'.join(str(p) for p in err['loc']).replace('_', '-')}: {err['msg']}")
    refusal = config.refusal()
    if refusal:
        _fail(refusal)
    run_service(config)


def run_service(config) -> None:
    import uvicorn

    from limner.agent.errors import UsageError
    from limner.agent.runner import make_brief, prepare
    from limner.agent.config import load_settings
    from limner.service.app import build_app

    try:  # the default model and policy are checked before the port opens: a typo is one line, not a 400 later
        prepare(make_brief("a red circle", model=config.model, policy=config.policy), load_settings())
    except UsageError as exc:
        _fail(str(exc))
    app = build_app(config)
    where = f"http://{config.host if ':' not in config.host else f'[{config.host}]'}:{config.port}"
    typer.echo(f"limner serve: {where}  (OpenAI base URL {where}/v1, docs {where}/docs, MCP {where}/mcp)", err=True)
    uvicorn.run(app, host=config.host, port=config.port, log_level="warning", timeout_graceful_shutdown=3)
