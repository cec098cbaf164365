"""`limner bench agent`: the agent against best-of-N on one curve (ShapesEval's scorer judges)."""

import json

import pytest
from typer.testing import CliRunner

from limner.bench import agent_curve as ac


def test_interpolation_is_linear_in_log_nfe_and_refuses_to_extrapolate():
    curve = [(40, 0.6), (80, 0.7), (160, 0.9)]
    assert ac.interpolate(curve, 80) == pytest.approx(0.7)
    assert ac.interpolate(curve, 113.137) == pytest.approx(0.8, abs=1e-4)  # half-way on a log axis
    assert ac.interpolate(curve, 30) is None and ac.interpolate(curve, 200) is None
    assert ac.nfe_to_reach(curve, 0.8) == pytest.approx(113.137, abs=1e-2)
    assert ac.nfe_to_reach(curve, 0.5) == 40 and ac.nfe_to_reach(curve, 0.95) is None


def test_the_pareto_frontier_keeps_only_points_nothing_beats():
    points = [{"name": "a", "mean_nfe": 40, "overall": 0.6}, {"name": "b", "mean_nfe": 80, "overall": 0.6},
              {"name": "c", "mean_nfe": 60, "overall": 0.8}, {"name": "d", "mean_nfe": 160, "overall": 0.9}]
    assert ac.pareto(points) == ["a", "c", "d"]


def test_the_comparison_reads_best_of_n_at_the_policy_s_nfe_per_tag_and_overall():
    base = [{"name": f"best-of-{n}", "n": n, "mean_nfe": 40.0 * n, "overall": o, "tags": {"t": o}}
            for n, o in [(1, 0.5), (2, 0.6), (4, 0.7)]]
    arm = {"baselines": base, "policies": [
        {"name": "p", "mean_nfe": 80.0, "overall": 0.75, "tags": {"t": 0.75}},
        {"name": "q", "mean_nfe": 640.0, "overall": 0.7, "tags": {"t": 0.7}}]}
    p, q = ac.compare(arm)
    assert p["best_of_n_at_equal_nfe"] == 0.6 and p["gain"] == 0.15 and p["gain_per_tag"] == {"t": 0.15}
    assert p["reaches_best_of_4"] and p["nfe_share_of_best_of_4"] == 0.5
    assert q["gain"] is None and q["nfe_share_of_best_of_4"] == 4.0


def test_a_best_of_n_policy_is_one_round_of_n_prompt_only_samples_judged_like_the_default(tmp_path):
    from limner.agent.policy import load_policy

    policy = load_policy(str(ac.best_of_n_policy(8, "learned", tmp_path, nfe_per_sample=40)))
    default = load_policy("default")
    assert (policy.max_rounds, policy.candidates_per_round, policy.layout, policy.actions) == (1, 8, False, ["random"])
    assert policy.budgets.nfe == 320 and policy.name == "best-of-8@learned" and policy.rates == "none"
    assert [(v.name, v.weight) for v in policy.verifiers] == [(v.name, v.weight) for v in default.verifiers]
    assert [v.options.get("answerer") for v in policy.verifiers if v.name == "questions"] == ["detector"]
    oracle = load_policy(str(ac.arm_policy("search", "oracle", tmp_path)))
    assert [v.options for v in oracle.verifiers if v.name == "questions"] == [{"answerer": "parser"}]
    assert oracle.actions == load_policy("search").actions


def test_bad_arguments_are_one_line_and_exit_2(tmp_path):
    from limner.agent.cli import app

    bad_arm = CliRunner().invoke(app, ["bench", "agent", "--arm", "scorer"])
    assert bad_arm.exit_code == 2 and bad_arm.output.strip() == (
        "error: unknown verifier arm 'scorer' (known: learned, oracle)")
    bad_policy = CliRunner().invoke(app, ["bench", "agent", "--policy", str(tmp_path / "none.yaml")])
    assert bad_policy.exit_code == 2 and len(bad_policy.output.strip().splitlines()) == 1
    bad_n = CliRunner().invoke(app, ["bench", "agent", "--n", "1,x"])
    assert bad_n.exit_code == 2 and "--n takes" in bad_n.output


@pytest.mark.slow
def test_the_bench_runs_baselines_at_exactly_n_plain_samples_and_writes_its_table_json_and_plot(tmp_path):
    from limner.agent.cli import app
    from limner.tools.shapes.suite import load_suite

    suite = tmp_path / "suite.jsonl"
    suite.write_text(json.dumps(next(m for m in load_suite() if m["tag"] == "two_object")) + "\n")
    result = CliRunner().invoke(app, ["bench", "agent", "--suite", str(suite), "--n", "1,2", "--policy", "fast",
                                      "--results", str(tmp_path / "a.json"), "--plot", str(tmp_path / "a.png"),
                                      "--runs", str(tmp_path / "runs"), "--write-rates", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "a.json").read_text())
    assert list(data["arms"]) == ["learned", "oracle"] and not data["arms"]["learned"]["oracle"]
    arm = data["arms"]["oracle"]
    assert arm["oracle"] and "an oracle, an upper bound" in result.output
    unit = data["nfe_per_sample"]
    for base in arm["baselines"]:  # one round of N plain samples, every one of them judged
        rows = arm["rows"][base["name"]]
        assert [r["nfe"] for r in rows] == [base["n"] * unit] and [r["verifier_calls"] for r in rows] == [base["n"]]
        assert [r["rounds"] for r in rows] == [1]
    assert [p["name"] for p in arm["policies"]] == ["fast"] and arm["comparison"][0]["policy"] == "fast"
    from PIL import Image

    with Image.open(tmp_path / "a.png") as im:
        assert im.size == (760, 480)
    assert "best-of-2" in result.output and "fast" in result.output
    # the rates table: every candidate of the learned arm's three runs, once (1 + 2 prompt-only, fast's 1-2 rounds)
    from limner.agent._graph.rates import Rates

    rates = Rates.load(tmp_path / "r.json")
    learned = data["arms"]["learned"]["rows"]
    assert sum(c["tries"] for a in rates.table.values() for c in a.values()) == sum(
        r["verifier_calls"] for rows in learned.values() for r in rows)
    assert set(rates.table) == {"random"} and "--write-rates" in json.loads((tmp_path / "r.json").read_text())["command"]


def test_rates_are_learned_from_run_manifests_as_the_runs_judged_their_candidates(tmp_path):
    """Every candidate of every round is one try of its round's action, in the context the round started from."""
    from limner.agent._graph.rates import Rates
    from limner.bench.learn_rates import learn_rates, write_rates

    def candidate(cid, version, score, failed_kind=None):
        q = [{"id": "o0", "question": "?", "kind": failed_kind or "exists", "counted": 1.0,
              "passed": failed_kind is None, "skipped_by_parent": False}]
        return {"id": cid, "plan_version": version, "score": score, "nfe": 40,
                "scores": {"questions": {"score": score, "detail": {"questions": q}}}}

    run = tmp_path / "run"
    run.mkdir()
    plan = {"version": 1, "checks": [{"id": "o0", "kind": "count"}]}
    manifest = {"policy": {"threshold": 0.8}, "plan": plan, "plans": [plan], "candidates": [
        candidate("r01-c00", 1, 0.5, "count"), candidate("r01-c01", 1, 0.6, "color"),
        candidate("r02-c00", 1, 0.9), candidate("r02-c01", 1, 0.7, "count")], "rounds": [
        {"round": 1, "action": "initial", "strategy": "random", "grounded": True,
         "candidates": ["r01-c00", "r01-c01"], "best_id_so_far": "r01-c01"},
        {"round": 2, "action": "zero_order", "strategy": "zero_order", "grounded": False,
         "candidates": ["r02-c00", "r02-c01"], "best_id_so_far": "r02-c00"}]}
    (run / "manifest.json").write_text(json.dumps(manifest))
    table = learn_rates([run])
    assert table == {"random+layout": {"plan:count": {"tries": 2, "passes": 0, "nfe": 80}},
                     "zero_order": {"colour": {"tries": 2, "passes": 1, "nfe": 80}}}
    write_rates(table, tmp_path / "rates.json", model="m", command="limner bench agent", runs=1)
    assert Rates.load(tmp_path / "rates.json").table == table
    # pooled runs are judged at the table's policy's threshold: at 0.95 round 2's 0.9 no longer passes
    assert learn_rates([run], threshold=0.95)["zero_order"]["colour"]["passes"] == 0
    manifest["candidates"][1] = candidate("r01-c01", 1, 0.6)  # now round 1's best passes at 0.5: round 2 is left out
    (run / "manifest.json").write_text(json.dumps(manifest))
    assert learn_rates([run], threshold=0.5) == {"random+layout": {"plan:count": {"tries": 2, "passes": 1, "nfe": 80}}}
