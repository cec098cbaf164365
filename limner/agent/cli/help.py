"""Plain, conventional help for every command: ``Usage: limner run [OPTIONS] PROMPT`` and ``--steps INTEGER``,
as click writes it, instead of typer's ``{prompt}`` and ``<int>`` placeholders.

``App`` is ``typer.Typer`` whose commands are made with ``PlainCommand``; every command group uses it.
"""

from __future__ import annotations

import typer
from typer.core import TyperCommand

_TYPE_NAMES = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "path": "PATH", "bool": "BOOLEAN",
               "int range": "INTEGER", "float range": "FLOAT"}


def _metavar(param) -> str:
    """Click's names for a value (``TEXT``, ``INTEGER``, ...) from typer's label (``<str>``, ``<int range>``)."""
    label = param.display_type(None).strip("<>")
    if label.startswith("list[") and label.endswith("]"):
        label = label[5:-1]
    if "|" in label:  # choices
        return f"[{label}]"
    return _TYPE_NAMES.get(label, label.upper())


def _argument(param) -> str:
    return (param.metavar or param.name.upper()) + ("..." if param.nargs != 1 else "")


class PlainCommand(TyperCommand):
    """A typer command whose help names arguments in capitals and option values by their type."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for param in self.params:
            if param.param_type_name == "option" and param.metavar is None and not (param.is_flag or param.count):
                param.metavar = _metavar(param)

    def collect_usage_pieces(self, ctx) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                pieces.append(_argument(param) if param.required else f"[{_argument(param)}]")
        return pieces

    def format_options(self, ctx, formatter) -> None:
        args, opts = [], []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                args.append((_argument(param), record[1]))
            else:
                opts.append(record)
        if args:
            with formatter.section("Arguments"):
                formatter.write_dl(args)
        if opts:
            with formatter.section("Options"):
                formatter.write_dl(opts)


class App(typer.Typer):
    """``typer.Typer`` with plain help (no rich rendering: it adds ~0.12 s to a ``--help``) and
    ``PlainCommand`` commands."""

    def __init__(self, **kwargs):
        kwargs.setdefault("rich_markup_mode", None)
        kwargs.setdefault("context_settings", {"help_option_names": ["-h", "--help"]})
        super().__init__(**kwargs)

    def command(self, *args, cls=None, **kwargs):
        return super().command(*args, cls=cls or PlainCommand, **kwargs)
