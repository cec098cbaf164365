"""Search strategies as the agent's actions: choice, budgets, manifest, and reproduction from the manifest."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from limner.agent import run
from limner.agent.errors import UsageError
from limner.agent.reproduce import regenerate
from helpers import manifest, policy_file

pytestmark = pytest.mark.slow  # end to end: diffusion, subprocesses or servers


SEARCH = {"actions": ["zero_order", "paths", "reno", "random"], "replan_after": 99, "threshold": 1.0,
          "strategy_options": {"reno": {"max_iterations": 3}, "paths": {"backtrack": 1}}}


def test_strategies_take_turns_when_a_round_brings_no_progress_and_every_candidate_regenerates(tmp_path):
    result = run("a red circle left of a blue square", seed=4, out=tmp_path,
                 policy=policy_file(tmp_path, max_rounds=4, **SEARCH))
    m = manifest(result)
    rounds = m["rounds"]
    assert rounds[0]["strategy"] == "random" and rounds[1]["strategy"] == "zero_order"
    decisions = [d for d in m["decisions"] if d["step"] == "decide"]  # decisions[k - 1] follows round k
    for k in range(2, len(decisions) + 1):
        d, before = decisions[k - 1], decisions[k - 2]
        if d["action"] == "finish":
            continue
        ran = rounds[k - 1]["strategy"]
        if d["best_score"] > before["best_score"]:
            assert d["action"] == ran and "improved" in d["reason"], d
        else:
            assert d["action"] != ran and "no progress" in d["reason"], d
    for r in rounds:  # the manifest records each round's strategy, parameters, NFE and best so far
        assert {"strategy", "params", "nfe", "nfe_charged", "best_score_so_far", "candidates"} <= set(r)
    assert m["budgets"]["spent"]["nfe"] == sum(r["nfe_charged"] for r in rounds)
    assert result.score == max(c["score"] for c in m["candidates"])
    run_dir = tmp_path / result.run_id
    strategies_seen = {c["strategy"] for c in m["candidates"]}
    assert {"random", "zero_order"} <= strategies_seen
    for entry in m["candidates"]:
        original = np.asarray(Image.open(run_dir / entry["path"]).convert("RGB"))
        again = np.asarray(regenerate(entry, run_dir))
        if entry["strategy"] == "paths":  # replayed alone: batched kernels may round one level differently
            assert np.abs(original.astype(int) - again.astype(int)).max() <= 1, entry["id"]
        else:
            assert np.array_equal(original, again), entry["id"]


def test_reno_candidate_saves_its_noise_and_regenerates_bit_identically(tmp_path):
    result = run("a red circle", seed=2, out=tmp_path,
                 policy=policy_file(tmp_path, max_rounds=2, actions=["reno"], threshold=1.0,
                                    strategy_options={"reno": {"max_iterations": 2}}))
    m = manifest(result)
    (entry,) = [c for c in m["candidates"] if c["strategy"] == "reno"]
    run_dir = tmp_path / result.run_id
    assert entry["noise"]["kind"] == "file" and (run_dir / entry["noise"]["path"]).is_file()
    assert entry["sampler"] == "limner-loop"
    reno_round = m["rounds"][1]
    assert reno_round["nfe_charged"] > reno_round["nfe"]  # the backward pass is charged
    original = np.asarray(Image.open(run_dir / entry["path"]).convert("RGB"))
    assert np.array_equal(original, np.asarray(regenerate(entry, run_dir)))


def test_reno_is_not_offered_for_a_many_step_model_unless_the_policy_asks(tmp_path):
    result = run("a red circle", seed=2, out=tmp_path,
                 policy=policy_file(tmp_path, max_rounds=3, actions=["reno"], threshold=1.0,
                                    generation={"steps": 8}))
    m = manifest(result)
    assert [r["strategy"] for r in m["rounds"]] == ["random"]
    assert "reno is for few-step models" in m["stop_reason"]


@pytest.mark.parametrize("budget", [17, 40, 61, 100])
def test_the_nfe_budget_holds_whatever_the_strategies(tmp_path, budget):
    result = run("two blue squares", seed=budget, out=tmp_path,
                 policy=policy_file(tmp_path, max_rounds=20, budgets={"nfe": budget}, **SEARCH))
    m = manifest(result)
    assert m["budgets"]["spent"]["nfe"] <= budget
    assert "NFE" in m["stop_reason"] or "can run" in m["stop_reason"]


@pytest.mark.parametrize("options, message", [
    ({"annealing": {}}, "unknown strategy 'annealing'"),
    ({"zero_order": {"lamda": 0.5}}, "strategy_options.zero_order: unknown option 'lamda' \\(known: lambda\\)"),
])
def test_unknown_strategy_options_are_rejected(tmp_path, options, message):
    with pytest.raises(UsageError, match=message):
        run("a red circle", out=tmp_path, policy=policy_file(tmp_path, strategy_options=options))
    assert not any(tmp_path.glob("*/manifest.json"))
