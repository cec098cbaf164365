"""The command line's habits: conventional help (``PROMPT``, ``--steps INTEGER``, no ``{prompt}`` or ``<str>``),
80 columns, plurals that agree. Fast: nothing here generates an image."""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from limner.agent.cli import app

runner = CliRunner()
ODD = re.compile(r"\{\w+\}|<(str|int|float|bool|path|list\[[a-z]+\]|int range|float range)>")


def _commands(group, path=()):
    """Every command path of the CLI: ("run",), ("bench", "search"), ..."""
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, path + (name,))
        else:
            yield path + (name,)


ALL = sorted(_commands(typer.main.get_command(app)))


def _width(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)


def test_every_command_is_listed():
    assert {("run",), ("edit",), ("chat",), ("batch",), ("bench", "shapes"), ("doctor",)} <= set(ALL)


@pytest.mark.parametrize("path", ALL, ids=" ".join)
def test_help_is_conventional_and_fits_80_columns(path):
    result = runner.invoke(app, [*path, "-h"], env={"COLUMNS": "80"}, terminal_width=80)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: limner " + " ".join(path))
    assert not ODD.search(result.output), ODD.search(result.output).group(0)
    assert _width(result.output) <= 80, [ln for ln in result.output.splitlines() if len(ln) > 80]


def test_arguments_and_option_values_are_named_as_click_names_them():
    out = runner.invoke(app, ["run", "-h"], env={"COLUMNS": "80"}).output
    assert "Usage: limner run [OPTIONS] PROMPT" in out
    assert "--steps INTEGER" in out and "--guidance FLOAT" in out and "--model TEXT" in out
    out = runner.invoke(app, ["edit", "-h"], env={"COLUMNS": "80"}).output
    assert "Usage: limner edit [OPTIONS] IMAGE INSTRUCTION" in out


@pytest.mark.parametrize("command", [["models"], ["policies"], ["doctor"]])
def test_listings_fit_80_columns(command):
    result = runner.invoke(app, command, env={"COLUMNS": "80"})
    assert result.exit_code in (0, 1), result.output  # doctor exits 1 when something is missing
    assert _width(result.output) <= 80, [ln for ln in result.output.splitlines() if len(ln) > 80]
    assert not re.search(r"\b1 steps\b|\b1 rounds\b", result.output)


def test_show_fits_80_columns(tmp_path):
    """A run folder with a hand-written manifest (no diffusion): ``limner show`` wraps into 80 columns."""
    import json

    from limner.agent.cli.render import render
    from rich.console import Console

    manifest = {"run_id": "r", "status": "passed", "stop_reason": "threshold reached: best score 0.991 >= 0.8",
                "brief": {"prompt": "a red circle left of a blue square"},
                "model": {"alias": "shapes-tiny", "source": "builtin:shapes-tiny", "steps": 20, "guidance": 4.0},
                "verifiers": [{"name": "clipscore"}, {"name": "questions"}, {"name": "pickscore"}],
                "best": {"id": "r01-c01"},
                "candidates": [{"id": f"r01-c0{i}", "seed": 1519501028 + i, "strategy": "zero_order",
                                "plan_version": 1, "score": 0.5,
                                "scores": {n: {"score": 0.5} for n in ("clipscore", "questions", "pickscore")}}
                               for i in range(3)],
                "rounds": [{"round": 1, "strategy": "zero_order", "params": {"pivot": "r01-c01", "lambda": 0.3,
                                                                              "candidates": 4, "restart": False},
                            "nfe": 160, "nfe_charged": 160, "verifier_calls": 0, "best_score_so_far": 0.5,
                            "best_id_so_far": "r01-c01", "regional": True}],
                "decisions": [], "budgets": {"spent": {"rounds": 1, "nfe": 160, "llm_calls": 0, "seconds": 5.0},
                                             "limits": {"rounds": 2, "nfe": 2000, "llm_calls": 24, "seconds": 900}}}
    console = Console(width=80, record=True, file=open(tmp_path / "out.txt", "w"))
    render(json.loads(json.dumps(manifest)), tmp_path, console)
    text = console.export_text()
    assert "r01-c01*" in text and "1519501028" in text
    assert _width(text) <= 80, [ln for ln in text.splitlines() if len(ln) > 80]
