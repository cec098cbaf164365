"""Learn the decide step's rates table from finished runs (their manifests): per action and context, how many
candidates were made, how many passed the run's own checks and threshold, and the NFE they cost.

    from limner.bench.learn_rates import learn_rates, write_rates
    write_rates(learn_rates(run_folders), "limner/policies/rates/shapes-tiny.json", model="shapes-tiny", command=...)

A candidate "passes" as a run would judge it (``_run.checks.passes``: the threshold met, no answered check
failing), so the rates say what a run can observe, not what a scorer would say. Runs of several policies can be
pooled: every candidate is judged at one ``threshold`` (the table's policy's; each run's own when None), and a
round whose best-so-far already passed at that threshold is left out, since a run at that threshold would have
stopped before it (such rounds only chase a higher policy threshold).
"""

from __future__ import annotations

import json
from pathlib import Path


def _round_key(log: dict) -> str:
    from limner.agent._graph.rates import action_key

    action = log.get("action") or "initial"
    name = action if action in ("repair", "variation") else (log.get("strategy") or "random")
    return action_key(name, bool(log.get("grounded") or log.get("regional")))


def learn_rates(run_dirs: list[str | Path], threshold: float | None = None) -> dict:
    """``{action: {context: {"tries", "passes", "nfe"}}}`` over every round of every run."""
    from limner.agent._graph.rates import failure_of, plan_context
    from limner.agent._run.checks import passes

    table: dict[str, dict[str, dict]] = {}
    for folder in run_dirs:
        manifest = json.loads((Path(folder) / "manifest.json").read_text())
        judge_at = manifest["policy"]["threshold"] if threshold is None else threshold
        by_id = {c["id"]: c for c in manifest.get("candidates", [])}
        plans = {p["version"]: p for p in manifest.get("plans") or [manifest["plan"]]}
        best = None  # the best candidate before each round
        for log in manifest.get("rounds", []):
            made = [by_id[i] for i in log.get("candidates", []) if i in by_id and by_id[i].get("score") is not None]
            if not made:
                continue
            if best is not None and passes(best, judge_at):
                break  # a run at ``judge_at`` stopped here
            version = made[0].get("plan_version")
            if best is None or best.get("plan_version") != version:
                context = plan_context(plans.get(version, manifest["plan"]))
            else:
                context = failure_of(best) or "unlocalised"
            cell = table.setdefault(_round_key(log), {}).setdefault(context, {"tries": 0, "passes": 0, "nfe": 0})
            cell["tries"] += len(made)
            cell["passes"] += sum(passes(c, judge_at) for c in made)
            cell["nfe"] += sum(int(c.get("nfe") or 0) for c in made)
            best = by_id.get(log.get("best_id_so_far")) or best
    return table


def write_rates(table: dict, path: str | Path, model: str, command: str, runs: int,
                threshold: float | None = None) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"model": model, "command": command, "runs": runs, "threshold": threshold,
            "note": "per action and context: candidates made (tries), how many passed the run's own checks at "
                    "the threshold (each run's own when null), and the NFE they cost; the decide step smooths p = (passes + 1) / (tries + 2)",
            "rates": {a: dict(sorted(c.items())) for a, c in sorted(table.items())}}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    tmp.replace(path)
