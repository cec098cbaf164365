"""The README's two commands are the ones CI and users run."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def commands() -> list[str]:
    return re.findall(r"```bash\n([^\n]+)\n```", (ROOT / "README.md").read_text())[:2]


def test_readme_opens_with_the_run_and_test_commands():
    run_cmd, test_cmd = commands()
    assert "limner run" in run_cmd and "pip install" in run_cmd
    assert "pytest" in test_cmd and "pip install" in test_cmd


def test_ci_runs_the_readme_test_command():
    assert commands()[1] in (ROOT / ".ci" / "run").read_text().splitlines()
