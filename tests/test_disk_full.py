"""A full disk as the output folder (a small tmpfs, mounted by the test as root): one line, no corrupt file,
nothing half-written, and the run resumes once there is space. Skipped, saying why, where it cannot mount."""

import sqlite3
import subprocess

import pytest
from typer.testing import CliRunner

from limner.agent.cli import app

runner = CliRunner()


def _mounted(folder, options: str):
    """A tmpfs mounted at ``folder`` with ``options`` for the test, unmounted after it; skipped where it cannot."""
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.decode().strip()[:120]}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.fixture
def small_disk(tmp_path):
    yield from _mounted(tmp_path / "disk", "size=150k")


def _grow(disk):
    subprocess.run(["mount", "-o", "remount,size=50m", str(disk)], check=True)


def test_a_full_disk_is_one_line_and_the_run_resumes_once_there_is_space(small_disk):
    out = small_disk / "runs"
    result = runner.invoke(app, ["run", "a red circle", "--out", str(out), "--seed", "2", "--quiet"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]  # notices aside
    assert len(lines) == 1 and "is full" in lines[0] and "Traceback" not in result.output
    folders = list(out.iterdir()) if out.is_dir() else []
    if "limner resume" in lines[0]:  # checkpointed before the disk filled: nothing corrupt, and it goes on
        [folder] = folders
        db = sqlite3.connect(f"file:{folder / 'checkpoint.sqlite'}?mode=ro", uri=True)
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.close()
        _grow(small_disk)
        again = runner.invoke(app, ["resume", folder.name])
        assert again.exit_code in (0, 1), again.output  # passed, or best effort
        assert (folder / "final.png").is_file() and (folder / "manifest.json").is_file()
    else:  # full before the first checkpoint: the folder is gone, nothing half-written
        assert folders == []


def test_a_disk_too_small_for_a_checkpoint_leaves_no_folder(tmp_path, small_disk):
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * 1024)
    while True:  # fill the disk to the last block
        try:
            with open(filler, "ab") as f:
                f.write(b"\0" * 4096)
        except OSError:
            break
    out = small_disk / "runs"
    result = runner.invoke(app, ["run", "a red circle", "--out", str(out), "--quiet"])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert len([line for line in result.output.splitlines() if line.startswith("error:")]) == 1
    assert not out.exists() or list(out.iterdir()) == []


@pytest.fixture
def read_only(tmp_path):
    yield from _mounted(tmp_path / "ro", "size=1m,ro")


def test_a_read_only_output_folder_or_home_is_one_line_and_writes_nothing(tmp_path, read_only, monkeypatch):
    import json

    result = runner.invoke(app, ["run", "a red circle", "--out", str(read_only / "runs")])
    assert result.exit_code == 2 and "is not writable" in result.output, result.output
    monkeypatch.setenv("LIMNER_HOME", str(read_only))  # a read-only home: the runs index cannot be written
    out = tmp_path / "runs"
    result = runner.invoke(app, ["run", "a red circle", "--out", str(out)])
    assert result.exit_code == 2 and "Limner's home" in result.output and "LIMNER_HOME" in result.output
    assert "Traceback" not in result.output and not out.exists()
    briefs = tmp_path / "briefs.jsonl"
    briefs.write_text(json.dumps({"prompt": "a red circle"}) + "\n")
    result = runner.invoke(app, ["batch", str(briefs), "--out", str(tmp_path / "batch")])
    assert result.exit_code == 2 and "Limner's home" in result.output and not (tmp_path / "batch").exists()
