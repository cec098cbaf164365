"""Ctrl-C in `limner run` stops at the next denoising step, keeps what was made, and names the real resume command;
`limner runs` lists the run and `--last` finds it again."""

from __future__ import annotations

import json
import os
import signal
import sys
import time

import pytest

pytestmark = pytest.mark.slow  # a terminal, diffusion


def test_ctrl_c_stops_at_the_next_step_and_resume_last_finishes_the_run(tmp_path, shapes_defaults):
    pexpect = pytest.importorskip("pexpect")
    env = dict(os.environ, COLUMNS="200", TERM="dumb", NO_COLOR="1")

    def limner(*args: str):
        return pexpect.spawn(sys.executable, ["-m", "limner.agent.cli", *args], env=env, encoding="utf-8",
                             timeout=180, cwd=str(tmp_path),
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))

    child = limner("run", "a red circle", "--seed", "2", "--threshold", "1", "--max-rounds", "6", "--out", "runs")
    child.expect(r"round 1: \d+ candidates")  # a round was made: the stop comes in the next one
    time.sleep(1.0)
    sent = time.monotonic()
    child.sendintr()
    child.expect("stopping at the next denoising step")
    child.expect(r"stopped: continue it with `limner resume (\S+)`")
    stopped_in = time.monotonic() - sent
    run_id = child.match.group(1)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130 and stopped_in < 20  # a step, the manifest and the final image: not ~30 s
    manifest = json.loads((tmp_path / "runs" / run_id / "manifest.json").read_text())
    assert manifest["status"] == "cancelled" and manifest["stop_reason"].startswith("cancelled")
    assert manifest["candidates"] and (tmp_path / "runs" / run_id / "final.png").is_file()

    listed = limner("runs", "--json")
    listed.expect(pexpect.EOF)
    rows = json.loads(listed.before[listed.before.index("["):])
    assert rows[0]["run_id"] == run_id and rows[0]["status"] == "cancelled"

    again = limner("resume", "--last")
    again.expect(pexpect.EOF)
    again.close()
    assert again.exitstatus == 0, again.before
    manifest = json.loads((tmp_path / "runs" / run_id / "manifest.json").read_text())
    assert manifest["status"] in ("passed", "best_effort") and manifest["rounds"][-1]["round"] >= 2
