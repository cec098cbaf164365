"""``limner batch``: briefs from JSONL, YAML or GenEval metadata; bad briefs reported; resumable after SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from limner.agent.batch import read_briefs, run_batch
from helpers import policy_file

pytestmark = pytest.mark.slow  # end to end: diffusion, subprocesses or servers


SUITE = Path(__file__).resolve().parents[1] / "limner" / "tools" / "shapes" / "data" / "shapes_eval.jsonl"


def _fast_policy(tmp_path) -> str:
    return policy_file(tmp_path, max_rounds=1, candidates_per_round=1, verifiers=[{"name": "questions"}],
                       actions=["random"], generation={"steps": 4})


def test_yaml_briefs_with_defaults_and_line_numbers(tmp_path):
    path = tmp_path / "briefs.yaml"
    path.write_text("defaults:\n  policy: fast\nbriefs:\n  - prompt: a red circle\n    seed: 4\n\n"
                    "  - prompt: a blue square\n    width: 64\n  - just text\n")
    items = read_briefs(path)
    assert [i.line for i in items] == [4, 7, 9]
    assert items[0].fields == {"policy": "fast", "prompt": "a red circle", "seed": 4}
    assert items[2].error.startswith("a brief is an object")


def test_bad_briefs_are_reported_with_their_line_and_the_others_run(tmp_path, shapes_defaults):
    briefs = tmp_path / "briefs.jsonl"
    briefs.write_text("\n".join([
        json.dumps({"prompt": "a red circle", "seed": 1}),
        "{not json",
        json.dumps({"prompt": "a blue square", "colour": "blue"}),
        "",
        json.dumps({"prompt": "a green triangle", "model": "no-such-model"}),
        json.dumps({"prompt": "two blue squares", "threshold": 3}),
        json.dumps({"prompt": "a green triangle", "width": 63}),
        json.dumps({"prompt": "a green triangle", "negative_prompt": "blurry"}),
    ]) + "\n")
    out = tmp_path / "out"
    summary = run_batch(briefs, out, overrides={"policy": _fast_policy(tmp_path)})
    bad = {b["line"]: b["reason"] for b in summary["bad_briefs"]}
    assert sorted(bad) == [2, 3, 5, 6, 7]
    assert "not valid JSON" in bad[2] and "colour" in bad[3] and "no-such-model" in bad[5]
    assert "threshold" in bad[6] and "multiple of 8" in bad[7]
    assert [r["line"] for r in summary["jobs"]] == [1, 8]
    assert all(r["status"] in {"passed", "best_effort"} for r in summary["jobs"])
    assert json.loads((out / "summary.json").read_text()) == summary
    assert sorted(p.name.split("-")[-1] for p in (out / "runs").iterdir()) == ["00000", "00006"]  # brief index (blank lines are not briefs)


def test_samples_write_geneval_layout_that_the_bench_scores(tmp_path, shapes_defaults):
    meta = tmp_path / "evaluation_metadata.jsonl"
    meta.write_text("".join(SUITE.read_text().splitlines(keepends=True)[:2]))
    out = tmp_path / "out"
    summary = run_batch(meta, out, samples=2, geneval_layout=True, overrides={"policy": _fast_policy(tmp_path)})
    assert [(r["index"], r["sample"]) for r in summary["jobs"]] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    first = json.loads(SUITE.read_text().splitlines()[0])
    assert json.loads((out / "geneval" / "00000" / "metadata.jsonl").read_text()) == first
    assert sorted(p.name for p in (out / "geneval" / "00001" / "samples").iterdir()) == ["0000.png", "0001.png"]
    assert _bench_images(out / "geneval", tmp_path) == 4


def test_a_rerun_clears_the_half_written_files_a_killed_batch_left(tmp_path, shapes_defaults):
    """SIGKILL during an atomic write leaves its temporary file; the next run of the batch removes it, nothing else."""
    meta = tmp_path / "evaluation_metadata.jsonl"
    meta.write_text(SUITE.read_text().splitlines(keepends=True)[0])
    out = tmp_path / "out"
    run_batch(meta, out, geneval_layout=True, overrides={"policy": _fast_policy(tmp_path)})
    samples = out / "geneval" / "00000" / "samples"
    left = [samples / ".0000.png.k3j_x9a2", out / ".summary.json.0a1b2c3d"]
    kept = [samples / ".notes", out / "notes.txt", samples / ".0000.png.short"]
    for p in left + kept:
        p.write_bytes(b"partial")
    run_batch(meta, out, geneval_layout=True, overrides={"policy": _fast_policy(tmp_path)})
    assert [p for p in left if p.exists()] == []
    assert all(p.exists() for p in kept)
    assert sorted(p.name for p in samples.glob("*.png")) == ["0000.png"]


def _bench_images(folder: Path, tmp_path: Path) -> int:
    """Score a GenEval-layout folder with ``limner bench shapes --images``; the number of images it scored."""
    results = tmp_path / "bench.json"
    scored = subprocess.run([sys.executable, "-m", "limner.agent.cli", "bench", "shapes", "--images", str(folder),
                             "--results", str(results)], capture_output=True, text=True)
    assert scored.returncode == 0, scored.stderr
    assert "overall" in scored.stdout
    return json.loads(results.read_text())["images"]


def _finished(out: Path) -> int:
    return len(list((out / "runs").glob("*/final.png"))) if (out / "runs").is_dir() else 0


def test_a_20_brief_batch_killed_twice_finishes_with_20_runs_and_no_duplicates(tmp_path, shapes_defaults):
    meta = tmp_path / "evaluation_metadata.jsonl"
    meta.write_text("".join(SUITE.read_text().splitlines(keepends=True)[:20]))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "limner.agent.cli", "batch", str(meta), "--out", str(out), "--geneval-layout",
           "--policy", _fast_policy(tmp_path), "--json"]
    for stop_after in (3, 9):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
        deadline = time.time() + 240
        while _finished(out) < stop_after and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the batch ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert 3 <= _finished(out) < 20
    done = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
    summary = json.loads(done.stdout)
    assert done.returncode == 0, [r for r in summary["jobs"] if r["status"] not in {"passed", "best_effort"}]
    assert summary["totals"]["jobs"] == 20, summary["totals"]
    assert summary["totals"]["passed"] + summary["totals"]["best_effort"] == 20, [
        r for r in summary["jobs"] if r["status"] not in {"passed", "best_effort"}]
    assert len({r["run_id"] for r in summary["jobs"]}) == 20
    runs = sorted((out / "runs").iterdir())
    assert len(runs) == 20
    for run_dir in runs:  # one round of one candidate each: nothing was generated twice
        assert sorted(p.name for p in (run_dir / "candidates").glob("*.png")) == ["r01-c00.png"]
        manifest = json.loads((run_dir / "manifest.json").read_text())
        assert len(manifest["candidates"]) == 1 and manifest["status"] in {"passed", "best_effort"}
    folders = sorted((out / "geneval").iterdir())
    assert [f.name for f in folders] == [f"{i:05d}" for i in range(20)]
    assert all([p.name for p in (f / "samples").iterdir()] == ["0000.png"] for f in folders)
    assert _bench_images(out / "geneval", tmp_path) == 20


def test_a_batch_folder_belongs_to_one_brief_file(tmp_path, shapes_defaults):
    from limner.agent.errors import UsageError

    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(yaml.safe_dump([{"prompt": "a red circle"}]))
    b.write_text(yaml.safe_dump([{"prompt": "a red circle"}]))
    run_batch(a, tmp_path / "out", overrides={"policy": _fast_policy(tmp_path)})
    with pytest.raises(UsageError, match="holds a batch from"):
        run_batch(b, tmp_path / "out")
