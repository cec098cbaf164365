"""The reliability bench: its integrity check finds what a kill can leave behind, and a small run of every
section goes end to end (the quick run's numbers are in the README; `limner bench reliability --quick`)."""

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from limner.bench.integrity import check_run
from limner.agent.cli import app


def _finished_run(tmp_path) -> Path:
    from helpers import policy_file
    from limner.agent.runner import run

    policy = policy_file(tmp_path, max_rounds=2, candidates_per_round=2, generation={"steps": 2})
    return Path(run("a red circle", out=tmp_path / "runs", policy=policy, seed=1).run_dir)


@pytest.mark.slow
def test_the_integrity_check_passes_a_whole_run_and_finds_each_kind_of_damage(tmp_path):
    run_dir = _finished_run(tmp_path)
    report = check_run(run_dir)
    assert report["ok"] and report["candidates"] == 4 and report["files"][".sqlite"] == 1, report
    damage = {
        "corrupt": lambda d: (d / "candidates" / "r01-c00.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken"),
        "mismatched": lambda d: shutil.copy(d / "candidates" / "r01-c01.png", d / "candidates" / "r01-c00.png"),
        "duplicates": lambda d: _append(d, {"event": "candidate_saved", "id": "r01-c00", "sha256": "x"}),
        "lost_events": lambda d: (d / "events.jsonl").write_text("".join(
            ln + "\n" for ln in (d / "events.jsonl").read_text().splitlines() if '"r02-c01"' not in ln)),
        "phantom_events": lambda d: _append(d, {"event": "candidate_saved", "id": "r09-c00", "sha256": "x"}),
        "torn_lines": lambda d: (d / "events.jsonl").write_text((d / "events.jsonl").read_text() + '{"event": "can'),
        "stray": lambda d: (d / "candidates" / ".r03-c00.png.k2j3h").write_bytes(b"half"),
        "manifest": lambda d: shutil.copy(d / "candidates" / "r02-c00.png", d / "final.png")
        if json.loads((d / "manifest.json").read_text())["best"]["id"] != "r02-c00"
        else shutil.copy(d / "candidates" / "r01-c00.png", d / "final.png"),
    }
    for kind, harm in damage.items():
        copy = tmp_path / kind
        shutil.copytree(run_dir, copy)
        harm(copy)
        report = check_run(copy)
        assert not report["ok"] and report[kind], (kind, report)


def _append(run_dir: Path, event: dict) -> None:
    with open(run_dir / "events.jsonl", "a") as f:
        f.write(json.dumps(event) + "\n")


SMALL = {"inputs": {"run": 6, "edit": 4, "verify": 4, "show": 4, "resume": 4, "plan": 6, "batch": 4, "bench": 4},
         "mcp": 8, "chat": 30, "llm_per_kind": 3, "llm_runs": 1, "kills": 1, "concurrent": 2}


@pytest.mark.slow
@pytest.mark.serial  # kills land at timed moments: it runs alone, not beside other tests
def test_a_small_reliability_run_finds_no_failure(tmp_path, shapes_defaults):
    """Inputs, LLM faults and kills (disk and concurrency have their own tests: test_disk_full, test_concurrency)."""
    from limner.bench.reliability import run_reliability, table

    result = run_reliability(sizes=SMALL, work=tmp_path / "work", say=lambda text: None,
                             only=["inputs", "llm", "kills"])
    doors = {row["door"]: row for row in result["inputs"]["doors"]}
    assert set(doors) == {*SMALL["inputs"], "mcp", "chat answers"}
    assert all(row["cases"] > 0 and row["succeeded"] + row["refused"] == row["cases"] for row in doors.values()), doors
    assert [row["kind"] for row in result["llm"]["calls"]] == ["plan", "replan", "revise", "intent", "judge",
                                                               "pairwise", "vqa", "yes/no"]
    assert result["llm"]["runs"]["runs"] == 1 and result["llm"]["runs"]["llm_requests"] > 1
    kills = {row["door"]: row for row in result["kills"]["doors"]}
    assert set(kills) == {"run", "batch", "chat", "mcp"}
    short = {door: row for door, row in kills.items()
             if not (row["kills"] >= 1 and row["completed"] == row["runs"] and row["files_checked"] > 0)}
    assert not short, short  # the doors that fell short, with their problems
    assert result["secrets"]["files_scanned"] > 100
    assert result["failures"] == 0, table(result)
    text = table(result)
    for heading in ("generated inputs", "mutated LLM answers", "killed at random", "secrets", "failures: 0"):
        assert heading in text


def test_the_bench_command_refuses_an_unknown_section():
    done = CliRunner().invoke(app, ["bench", "reliability", "--only", "everything"])
    assert done.exit_code == 2 and "unknown section 'everything'" in done.stderr
