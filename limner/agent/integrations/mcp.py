"""Limner as an MCP server (the official ``mcp`` SDK): ``limner mcp`` serves it over stdio.

Tools: ``generate``, ``edit``, ``verify``, ``answer`` (continue a run waiting for a person), ``resume`` and
``manifest``. A run's tool result carries its JSON (run id, status, final path, score, manifest path, and the
question when the run waits) and the image itself (``final.png``, or the contact sheet of a waiting run).
While a run works, the server sends progress notifications (one per step, candidate and decision). Calls that
generate or score run one at a time (they share the loaded models); others wait for their turn.

The agent runs in a worker thread; stdout belongs to the protocol, so nothing in a run prints to it.
"""

import base64
import json
import threading
from pathlib import Path
from typing import Any, Callable

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, ImageContent, TextContent

from limner.agent import runner
from limner.agent.errors import UsageError

INSTRUCTIONS = (
    "Limner plans an image, generates candidates with a diffusion model, checks them (reward models, "
    "question-based checks) and keeps working until one passes. Call generate with a prompt; the result names "
    "final.png and carries it. With interactive=true the run stops at its plan and after each round "
    "(status 'waiting', with a question): reply with answer(run_id, text).")


def _content(result) -> Any:
    data = result.model_dump(exclude={"candidates"})  # an LLM reads this: the manifest holds every candidate
    blocks: list = [TextContent(type="text", text=json.dumps(data, indent=1))]
    image = result.final_path
    if image is None and result.status == "waiting" and (Path(result.run_dir) / "contact.png").is_file():
        image = str(Path(result.run_dir) / "contact.png")
    if image is not None:
        png = base64.b64encode(Path(image).read_bytes()).decode("ascii")
        blocks.append(ImageContent(type="image", data=png, mime_type="image/png"))
    return CallToolResult(content=blocks, structured_content=data, is_error=result.status == "failed")


def _json(data: dict) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=json.dumps(data, indent=1))], structured_content=data)


class _Progress:
    """Turns a run's stream events into MCP progress notifications, from the worker thread."""

    def __init__(self, ctx):
        import anyio.lowlevel

        self.ctx, self.count = ctx, 0
        self.token = anyio.lowlevel.current_token()  # to reach the event loop from any thread (a service's worker)

    def message(self, event: dict) -> str | None:
        kind = event.get("event")
        if kind == "step":
            return f"round {event['round']}: step {event['step']}/{event['steps']}"
        if kind == "plan":
            return f"plan v{event['plan']['version']}: {event['plan']['rewritten_prompt']}"
        if kind == "candidate":
            return f"{event['id']} scored {event['score']:.3f}"
        if kind == "decision":
            return f"decide: {event['action']} ({event['reason']})"
        if kind == "finished":
            return f"{event['status']}: {event['stop_reason']}"
        return None

    def __call__(self, event: dict) -> None:
        import anyio.from_thread

        text = self.message(event)
        if text is None:
            return
        self.count += 1
        try:
            anyio.from_thread.run(self.ctx.report_progress, self.count, None, text, token=self.token)
        except Exception:  # a client that went away must not stop the run  # noqa: BLE001
            pass


_ONE_RUN = threading.Lock()  # runs share the loaded pipelines, which are not safe to call from two threads


def _locked(work: Callable):
    with _ONE_RUN:
        return work()


async def _blocking(work: Callable, execute: Callable = _locked):
    """Run ``execute(work)`` in a worker thread; a ``UsageError`` becomes the tool's error. ``execute`` runs it
    one at a time: under a lock here, on the generation worker in ``limner serve``."""
    import anyio.to_thread

    try:
        return await anyio.to_thread.run_sync(lambda: execute(work))
    except UsageError as exc:
        raise ToolError(str(exc)) from None


def read_allowance(out: str, allow_read: list[str] | None = None) -> list[Path]:
    """The folders whose files the tools may read as input images: ``allow_read`` (``limner mcp --allow-read``),
    else ``LIMNER_MCP_ALLOW_READ`` (folders separated by ``os.pathsep``), else the working folder; the runs
    folder always (a run's images are inputs to the next edit)."""
    import os

    from limner.agent.config import load_settings

    given = allow_read or [p for p in load_settings().mcp_allow_read.split(os.pathsep) if p]
    folders = [Path(p).expanduser().resolve() for p in (given or [os.getcwd()])]
    return folders + [Path(out).expanduser().resolve()]


def _readable(path: str | None, allowed: list[Path], what: str) -> str | None:
    """``path`` if it lies (symlinks resolved) inside an allowed folder, else a ``ToolError`` saying how to allow it."""
    if path is None:
        return None
    try:
        real = Path(path).expanduser().resolve()
    except (OSError, ValueError, RuntimeError) as exc:  # a NUL byte, a name too long, a symlink loop
        raise ToolError(f"{what} {path[:200]!r} is not a usable path: {exc}") from None
    if not any(real.is_relative_to(folder) for folder in allowed):
        raise ToolError(f"{what} {path} is outside the folders this server may read "
                        f"({', '.join(map(str, allowed))}): start it with `limner mcp --allow-read FOLDER`")
    return str(real)


def build_server(out: str = "limner-runs", allow_read: list[str] | None = None, execute: Callable = _locked,
                 settings=None):
    """The MCP server (an ``MCPServer``); ``out`` is the folder for run folders, ``allow_read`` the folders whose
    files may be read as input images (``read_allowance``). Run ids resolve only inside ``out``. ``execute(work)``
    runs a tool's work, one at a time (``limner serve`` passes its generation worker); ``settings`` the runs'
    settings (default: the environment's)."""
    out = str(Path(out).expanduser().resolve())  # results name files by absolute path
    allowed = read_allowance(out, allow_read)
    server = MCPServer("limner", instructions=INSTRUCTIONS, log_level="WARNING")

    async def _in_thread(fn: Callable, ctx, **kwargs):
        progress = _Progress(ctx)
        return await _blocking(lambda: fn(on_event=progress, settings=settings, **kwargs), execute)

    @server.tool(structured_output=False)
    async def generate(prompt: str, ctx: Context, model: str | None = None, policy: str = "default",
                       seed: int | None = None, threshold: float | None = None, max_rounds: int | None = None,
                       candidates: int | None = None, negative_prompt: str = "", width: int | None = None,
                       height: int | None = None, interactive: bool = False) -> CallToolResult:
        """Plan, generate, verify and decide until the image passes or a budget is spent. Returns the run's
        result and its final image. With interactive=true the run waits for answers (see answer)."""
        return _content(await _in_thread(
            runner.run, ctx, prompt=prompt, out=out, model=model, policy=policy, seed=seed, threshold=threshold,
            max_rounds=max_rounds, candidates=candidates, negative_prompt=negative_prompt, width=width,
            height=height, interactive=interactive))

    @server.tool(structured_output=False)
    async def edit(image: str, instruction: str, ctx: Context, box: list[float] | None = None,
                   mask: str | None = None, model: str | None = None, policy: str = "edit",
                   seed: int | None = None) -> CallToolResult:
        """Edit an image file: repaint the box ([x0, y0, x1, y1] as fractions) or mask with the instruction,
        verify, and repair until it passes."""
        image, mask = _readable(image, allowed, "image"), _readable(mask, allowed, "mask")
        return _content(await _in_thread(runner.run, ctx, prompt=instruction, image=image, box=box, mask=mask,
                                         out=out, model=model, policy=policy, seed=seed))

    @server.tool(structured_output=False)
    async def answer(run_id: str, text: str, ctx: Context) -> CallToolResult:
        """Answer a run that waits for a person: at a plan 'yes', changes in plain words, or 'cancel'; after a
        round 'accept', 'pick <candidate id>', 'more', or what to change ('make the square bigger')."""
        return _content(await _in_thread(runner.answer, ctx, run=run_id, text=text, within=out))

    @server.tool(structured_output=False)
    async def resume(run_id: str, ctx: Context) -> CallToolResult:
        """Continue a run from its last checkpoint (after a crash or kill); a waiting run returns its question."""
        return _content(await _in_thread(runner.resume, ctx, run=run_id, within=out))

    @server.tool(structured_output=False)
    async def verify(image: str, prompt: str, verifiers: list[str] | None = None) -> CallToolResult:
        """Score an image file against a prompt with Limner's verifiers (default: clipscore and questions)."""
        from limner.agent.verify import verify_image

        path = _readable(image, allowed, "image")
        return _json(await _blocking(lambda: verify_image(path, prompt, verifiers), execute))

    @server.tool(structured_output=False)
    def manifest(run_id: str) -> CallToolResult:
        """A run's manifest: plan, every candidate with its scores and noise, decisions, budgets."""
        from limner.agent._run.store import find_run

        try:
            store = find_run(run_id, within=out)
        except UsageError as exc:
            raise ToolError(str(exc)) from None
        if not store.manifest_path.is_file():
            raise ToolError(f"run '{run_id}' has no manifest yet")
        return _json(store.read_manifest())

    return server


def serve(out: str = "limner-runs", allow_read: list[str] | None = None) -> None:
    build_server(out, allow_read).run("stdio")
