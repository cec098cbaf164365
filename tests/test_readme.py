"""The README's two commands are the ones CI and users run."""

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # end to end: diffusion, subprocesses or servers


ROOT = Path(__file__).resolve().parent.parent


def commands() -> list[str]:
    return re.findall(r"```bash\n([^\n]+)\n```", (ROOT / "README.md").read_text())[:2]


def test_readme_opens_with_the_run_and_test_commands():
    run_cmd, test_cmd = commands()
    assert "limner run" in run_cmd and "pip install" in run_cmd
    assert "pytest" in test_cmd and "pip install" in test_cmd


def test_ci_runs_the_readme_test_command():
    assert commands()[1] in (ROOT / ".ci" / "run").read_text().splitlines()


def python_examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)


def test_readme_python_examples_run(tmp_path, monkeypatch, shapes_defaults):
    examples = python_examples()
    assert any("limner.tools.search import search" in e for e in examples)
    monkeypatch.chdir(tmp_path)
    for code in examples:
        exec(compile(code, "README.md", "exec"), {"__name__": "readme_example"})
    assert (tmp_path / "best.png").is_file()
    assert any((tmp_path / "limner-runs").glob("*/final.png"))
