"""What every command module shares: one-line failures, the result report, exit codes, plurals."""

from __future__ import annotations

from contextlib import contextmanager
from functools import wraps

import typer


def columns() -> int:
    """The terminal's width (``COLUMNS`` when set), 80 when output is not a terminal; at most 100."""
    import shutil

    return max(40, min(100, shutil.get_terminal_size((80, 24)).columns))


def wrapped(text: str, indent: int = 0, first: str = "") -> str:
    """``first`` then ``text`` wrapped to the terminal, continuation lines indented by ``indent`` spaces
    (words, paths and ids are never broken)."""
    import textwrap

    return textwrap.fill(text, width=columns(), initial_indent=first, subsequent_indent=" " * indent,
                         break_long_words=False, break_on_hyphens=False) or first


def plural(n: int, word: str, many: str | None = None) -> str:
    """'1 round', '2 rounds'."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def _fail(message: str, code: int = 2):
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def friendly(fn):
    """Turn a ``UsageError`` into one line on stderr and exit code 2; Ctrl-C into a resumable stop."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        from limner.agent.errors import UsageError

        try:
            return fn(*args, **kwargs)
        except UsageError as exc:
            _fail(str(exc))
        except KeyboardInterrupt:
            typer.echo("interrupted: the run is checkpointed; continue it with `limner resume --last` "
                       "(`limner runs` lists the runs)", err=True)
            raise typer.Exit(130)

    return wrapper


@contextmanager
def ctrl_c_stops():
    """For a run in the foreground: the first Ctrl-C asks it to stop at its next denoising step (it ends
    ``cancelled``, checkpointed, its best candidate kept); a second one stops at once. Yields the ``cancel``
    function ``limner.agent.run`` takes."""
    import signal
    import threading

    asked = threading.Event()

    def handler(signum, frame):
        if asked.is_set():
            raise KeyboardInterrupt
        asked.set()
        typer.echo("\nstopping at the next denoising step (Ctrl-C again to stop at once)", err=True)

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # started with Ctrl-C ignored (nohup, a background job)
        yield lambda: False
        return
    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread: Ctrl-C keeps its usual meaning
        yield lambda: False
        return
    try:
        yield asked.is_set
    finally:
        signal.signal(signal.SIGINT, previous)


def run_id_or_last(run_id: str | None, last: bool) -> str:
    """The run a command names: its RUN_ID argument, or with ``--last`` the newest run."""
    from limner.agent._run.store import last_run_id

    if last and run_id:
        _fail("give a run id or --last, not both")
    if last:
        return last_run_id()
    if not run_id:
        _fail("name a run: RUN_ID (or its folder), or --last for the newest (`limner runs` lists them)")
    return run_id


def _report(result, as_json: bool) -> None:
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    typer.echo(f"run      {result.run_id}  ({result.status})")
    typer.echo(f"reason   {result.stop_reason}")
    if result.final_path:
        typer.echo(f"final    {result.final_path}  score {result.score:.3f}  ({result.best_id})")
    if result.checks and result.checks["of"]:
        typer.echo(f"checks   {result.checks['passed']} of {result.checks['of']} pass"
                   + (f" (failing: {'; '.join(result.checks['failed'])})" if result.checks["failed"] else ""))
    typer.echo(f"spent    {plural(result.rounds, 'round')}, {result.nfe} NFE, {plural(result.llm_calls, 'LLM call')}, "
               f"{result.seconds:.1f}s")
    typer.echo(f"manifest {result.manifest_path}")
    if result.status == "cancelled":
        typer.echo(f"stopped: continue it with `limner resume {result.run_id}`")


def _exit_code(result) -> int:
    return {"failed": 1, "cancelled": 130}.get(result.status, 0)
