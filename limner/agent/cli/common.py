"""What every command module shares: one-line failures, the result report, exit codes, plurals."""

from __future__ import annotations

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
            typer.echo("interrupted: the run is checkpointed; continue it with `limner resume RUN_ID`", err=True)
            raise typer.Exit(130)

    return wrapper


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


def _exit_code(result) -> int:
    return 1 if result.status == "failed" else 0
