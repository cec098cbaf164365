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
        served = None
        if "OpenAI(" in code:  # the service's example talks to `limner serve` where the README starts it
            from service_server import LiveService

            served = LiveService(tmp_path / "served", tmp_path / "served-home", port=8420).start()
        try:
            exec(compile(code, "README.md", "exec"), {"__name__": "readme_example"})
        finally:
            if served is not None:
                served.stop()
    assert (tmp_path / "best.png").is_file() and (tmp_path / "limner.png").is_file()
    assert any((tmp_path / "limner-runs").glob("*/final.png"))


# README commands a test does not run, each with its reason; every other command of its bash blocks runs below
NOT_RUN = {
    'pip install torch==2.13.0 . && limner run "two red circles and a blue square" --seed 1':
        "installs: the clean-clone CI and the fresh-venv check run it",
    'pip install torch==2.13.0 ".[test]" && python -m pytest': "this very suite",
    "limner pull sdxl-turbo": "downloads real weights",
    'limner run "a corgi astronaut, studio photo" --model sdxl-turbo': "needs real weights",
    "export LIMNER_LLM_BASE_URL=http://localhost:8000/v1 LIMNER_LLM_MODEL=qwen2.5-7b-instruct": "names a server",
    'limner chat "a blue circle left of a red square"': "interactive: tests/test_chat.py drives it in a terminal",
    "limner serve": "runs until stopped: the README's Python example is run against one started on its port",
}


def readme_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def readme_files() -> dict[str, str]:
    """YAML blocks that open with ``# <file name>``: the files the README's commands read."""
    blocks = re.findall(r"```yaml\n# (\S+)\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    return dict(blocks)


def test_every_readme_command_runs_as_written(tmp_path, shapes_defaults):
    """Each command of the README's bash blocks, in order, in one folder, as a newcomer types them (RUN_ID: the
    run the last `limner run` made); every one exits 0. Those it cannot run here are named in NOT_RUN."""
    import os
    import shlex
    import subprocess
    import sys

    commands = readme_commands()
    assert set(NOT_RUN) <= set(commands), set(NOT_RUN) - set(commands)  # no stale exemption
    for name, text in readme_files().items():
        (tmp_path / name).write_text(text)
    ran, run_dir = [], None
    for command in commands:
        if command in NOT_RUN:
            continue
        argv = shlex.split(command)
        assert argv[0] == "limner", command
        if "RUN_ID" in argv:
            assert run_dir is not None, f"{command}: no run before it"
            argv = [str(run_dir) if a == "RUN_ID" else a for a in argv]
        before = set((tmp_path / "limner-runs").glob("*")) if (tmp_path / "limner-runs").is_dir() else set()
        done = subprocess.run([sys.executable, "-m", "limner.agent.cli", *argv[1:]], cwd=tmp_path,
                              capture_output=True, text=True, env=os.environ.copy(), timeout=600)
        assert done.returncode == 0, (command, done.stderr[-2000:])
        if argv[1] == "run":
            (run_dir,) = set((tmp_path / "limner-runs").glob("*")) - before
            assert (run_dir / "final.png").is_file()
        ran.append(command)
    assert any(c.startswith("limner run") for c in ran) and any(c.startswith("limner batch") for c in ran)
    assert (tmp_path / "batch-run" / "summary.json").is_file()
