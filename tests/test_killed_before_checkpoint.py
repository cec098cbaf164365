"""A run folder killed after its checkpoint file was made but before the first checkpoint went in (issue 35's
reliability run found it under load): resuming it is one line and exit 2 saying to start again, and the kill
campaigns start the command again instead of counting it as a session that never finished."""

from __future__ import annotations

import subprocess
import sys

from limner.agent._run.store import RunStore
from limner.bench.kills import _resumable


def _killed_early(folder):
    folder.mkdir(parents=True)
    with RunStore(folder).checkpointer() as saver:  # the file and its tables, no checkpoint yet
        assert next(iter(saver.list(None, limit=1)), None) is None
    assert (folder / "checkpoint.sqlite").is_file()
    return folder


def test_resuming_a_folder_killed_before_its_first_checkpoint_is_one_line_and_exit_2(tmp_path):
    folder = _killed_early(tmp_path / "runs" / "20261205-000000-abcdef")
    for cmd in (["resume", str(folder)], ["chat", "--resume", str(folder)]):
        done = subprocess.run([sys.executable, "-m", "limner.agent.cli", *cmd], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=120)
        assert done.returncode == 2, done.stderr
        assert "stopped before its first one" in done.stderr and "Traceback" not in done.stderr + done.stdout


def test_the_kill_campaigns_start_again_where_nothing_was_checkpointed(tmp_path):
    out = tmp_path / "chat" / "00"
    empty = _killed_early(out / "20261205-000000-abcdef")
    assert _resumable(out) == [] and not empty.exists()  # deleted, as a person told so would
    done = out / "20261205-000001-abcdef"
    done.mkdir()
    (done / "checkpoint.sqlite").write_bytes(b"")  # a file with no tables reads as no checkpoint too
    (done / "manifest.json").write_text("{}")  # but a folder with a manifest is never deleted
    assert _resumable(out) == [] and done.exists()
