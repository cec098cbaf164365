"""The performance benchmarks: their accounting, not their timings (those are printed by `limner bench ...`)."""

import json
import time

from limner.bench.perf import overhead
from limner.bench.timer import ComputeTimer, summary


import pytest

pytestmark = pytest.mark.slow  # end to end: diffusion, subprocesses or servers


class _Model:
    def forward(self, x):
        time.sleep(0.02)
        return x


class _Verifier:
    def __init__(self, model):
        self.model = model

    def score(self, x):
        return self.model.forward(x)


def test_compute_timer_counts_wrapped_calls_once_and_restores_them():
    model = _Model()
    verifier = _Verifier(model)
    timer = ComputeTimer()
    timer.wrap(model, "forward", "denoiser")
    timer.wrap(verifier, "score", "verifiers")
    model.forward(1)
    verifier.score(1)  # a timed call inside another timed call counts once, as the outer kind
    assert timer.calls == {"denoiser": 1, "verifiers": 1}
    assert timer.seconds["denoiser"] >= 0.019 and timer.seconds["verifiers"] >= 0.019  # each slept 0.02 s, once
    timer.restore()
    assert "forward" not in vars(model) and "score" not in vars(verifier)  # the classes' methods are back
    model.forward(1)
    assert timer.calls == {"denoiser": 1, "verifiers": 1}
    assert summary([3.0, 1.0, 2.0, 4.0])["median"] == 2.5


def test_overhead_splits_wall_time_and_the_shares_add_up(tmp_path, shapes_defaults):
    r = overhead(briefs=["a red circle"], repeats=1)
    (run,) = r["runs"]
    assert run["compute"]["denoiser"] > 0 and run["compute"]["vae"] > 0 and run["compute"]["verifiers"] > 0
    assert run["steps"] >= 6  # intake, plan, generate, verify, decide, finish (no review steps: not a chat)
    assert abs(sum(r["share_of_wall"].values()) - 1.0) < 1e-6
    assert run["overhead"] == run["wall"] - sum(run["compute"].values()) - run["llm"]
    assert 0 < run["diffusers_loop"] < run["overhead"]  # the pipeline's own loop is part of the overhead
    import limner.tools.generators.diffusers_backend as backend

    assert backend.counted_call.__name__ == "counted_call"  # restored
    json.dumps(r)


def test_the_throughput_command_prints_ratios_and_writes_json(tmp_path, shapes_defaults):
    from typer.testing import CliRunner

    from limner.agent.cli import app

    out = tmp_path / "t.json"
    result = CliRunner().invoke(app, ["bench", "throughput", "-n", "2", "--repeats", "1", "--results", str(out)])
    assert result.exit_code == 0, result.output
    assert "limner / plain batched" in result.output and "same images: True" in result.output
    r = json.loads(out.read_text())
    assert r["candidates"] == 2
    assert r["same_images_as_plain"] is True  # Limner's generate is the plain call, not a different computation
    assert set(r["seconds"]) == {"limner", "limner_no_prompt_cache", "plain_batched", "one_call_per_candidate"}
    assert r["limner_vs_plain"] > 0 and r["verifier"]["batched_vs_one_per_image"] > 0
    assert r["prompt_cache_speedup"] > 0 and r["verifier"]["text_cache_speedup"] > 0
