"""Does the agent pay for itself? Accuracy against compute for best-of-N sampling and for each policy.

For every prompt of a suite and every verifier arm:

- best-of-N (N = 1, 2, 4, 8, 16): one round of N fresh prompt-only samples, the best by the arm's verifiers
  (the default policy's ensemble: CLIP score and the plan's checks), run through the agent itself with a
  one-round policy, so the choice, the seeds and the NFE charged are the agent's own: exactly N plain samples;
- each policy, its checks answered by the arm's answerer.

Every final image is judged by ShapesEval's scorer (GenEval's rules on the exact parser). Arms: ``learned``
(the shapes world's learned detector answers the checks) and ``oracle`` (the exact parser answers them: the
scorer's own method in the loop, an upper bound, never a headline).
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from pathlib import Path
from typing import Callable

ARMS = {"learned": "detector", "oracle": "parser"}  # arm -> who answers the plan's checks
NS = (1, 2, 4, 8, 16)
POLICIES = ("default", "fast", "search", "layout")


def arm_policy(policy: str, arm: str, folder: Path, name: str | None = None, **changes) -> Path:
    """A copy of ``policy`` whose checks the arm's answerer answers (and any other field changed), as YAML."""
    import yaml

    from limner.agent.policy import Policy, load_policy

    data = load_policy(policy).model_dump(mode="json")
    for ref in data["verifiers"]:
        if ref["name"] == "questions":
            ref["options"] = {**ref.get("options", {}), "answerer": ARMS[arm]}
    data.update(changes)
    data["name"] = f"{name or data['name']}@{arm}"
    Policy(**data)  # the copy is a valid policy
    path = folder / f"{data['name'].replace('@', '-')}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def best_of_n_policy(n: int, arm: str, folder: Path, nfe_per_sample: int) -> Path:
    """The default policy's verifiers, one round of ``n`` prompt-only samples, nothing else."""
    return arm_policy("default", arm, folder, name=f"best-of-{n}", max_rounds=1, candidates_per_round=n,
                      layout=False, actions=["random"], planner="rules", rates="none",  # exactly n samples
                      budgets={"nfe": n * nfe_per_sample, "llm_calls": 0, "seconds": 3600},
                      description=f"best of {n} fresh prompt-only samples by the default policy's verifiers")


def _verifier_calls(run_dir: str) -> int:
    manifest = json.loads((Path(run_dir) / "manifest.json").read_text())
    return len(manifest.get("candidates", []))


def run_arm(policy_path: Path, suite: list[dict], seed: int, out: Path, model: str | None) -> list[dict]:
    """One run per prompt (seed ``seed + i``); each row: the scorer's verdict and what the run spent."""
    from limner.agent.runner import run
    from limner.tools.shapes.geneval import score_image
    from PIL import Image

    rows = []
    for i, metadata in enumerate(suite):
        result = run(metadata["prompt"], out=out, policy=str(policy_path), model=model, seed=seed + i)
        if result.final_path is None:
            raise RuntimeError(f"run {result.run_id} made no image: {result.stop_reason}")
        with Image.open(result.final_path) as im:
            judged = score_image(im.convert("RGB"), metadata)
        rows.append({"prompt": i, "tag": metadata["tag"], "seed": seed + i, "correct": bool(judged["correct"]),
                     "status": result.status, "nfe": result.nfe, "llm_calls": result.llm_calls,
                     "verifier_calls": _verifier_calls(result.run_dir), "rounds": result.rounds,
                     "seconds": result.seconds, "stop_reason": result.stop_reason, "run_id": result.run_id})
    return rows


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)])


def summarise(rows: list[dict]) -> dict:
    """Accuracy per tag and overall (ShapesEval's ``summarize``: the mean over tags, as GenEval), and what a
    prompt cost."""
    from limner.tools.shapes.geneval import summarize

    scored = summarize(rows)
    n = len(rows)
    return {"overall": round(scored["overall"], 4), "tags": {t: round(v, 4) for t, v in scored["tags"].items()},
            "counts": scored["counts"], "prompts": n,
            "mean_nfe": round(sum(r["nfe"] for r in rows) / n, 1), "p90_nfe": p90([r["nfe"] for r in rows]),
            "mean_verifier_calls": round(sum(r["verifier_calls"] for r in rows) / n, 2),
            "mean_llm_calls": round(sum(r["llm_calls"] for r in rows) / n, 2),
            "mean_seconds": round(sum(r["seconds"] for r in rows) / n, 2),
            "passed": sum(r["status"] == "passed" for r in rows),
            "false_passes": sum(r["status"] == "passed" and not r["correct"] for r in rows),
            "unverified": sum(r["status"] == "unverified" for r in rows),
            "false_passes_by_tag": {t: [sum(r["status"] == "passed" and not r["correct"] for r in rows if r["tag"] == t),
                                        sum(r["status"] == "passed" for r in rows if r["tag"] == t)]
                                    for t in scored["tags"]}}


def interpolate(curve: list[tuple[float, float]], nfe: float) -> float | None:
    """Best-of-N's accuracy at ``nfe`` (linear in log NFE between its points); None outside its range."""
    pts = sorted(curve)
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if x0 <= nfe <= x1:
            t = 0.0 if x1 == x0 else (math.log(nfe) - math.log(x0)) / (math.log(x1) - math.log(x0))
            return y0 + t * (y1 - y0)
    return pts[0][1] if len(pts) == 1 and pts[0][0] == nfe else None


def nfe_to_reach(curve: list[tuple[float, float]], accuracy: float) -> float | None:
    """The least mean NFE at which best-of-N reaches ``accuracy`` (log-linear between points), None if never."""
    pts = sorted(curve)
    if pts and pts[0][1] >= accuracy:
        return pts[0][0]
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if y0 < accuracy <= y1:
            t = (accuracy - y0) / (y1 - y0)
            return math.exp(math.log(x0) + t * (math.log(x1) - math.log(x0)))
    return None


def pareto(points: list[dict]) -> list[str]:
    """Names of the points no other point beats on both cost and accuracy."""
    out = []
    for p in points:
        if not any(q is not p and q["mean_nfe"] <= p["mean_nfe"] and q["overall"] >= p["overall"]
                   and (q["mean_nfe"] < p["mean_nfe"] or q["overall"] > p["overall"]) for q in points):
            out.append(p["name"])
    return out


def compare(arm: dict) -> list[dict]:
    """Per policy: best-of-N at the policy's mean NFE (gain), per tag too, and the NFE share of best-of-16."""
    base = arm["baselines"]
    curve = [(b["mean_nfe"], b["overall"]) for b in base]
    top = max(base, key=lambda b: b["n"])
    out = []
    for p in arm["policies"]:
        at = interpolate(curve, p["mean_nfe"])
        tags = {}
        for tag, acc in p["tags"].items():
            tag_at = interpolate([(b["mean_nfe"], b["tags"].get(tag, 0.0)) for b in base], p["mean_nfe"])
            tags[tag] = None if tag_at is None else round(acc - tag_at, 4)
        reach = p["mean_nfe"] / top["mean_nfe"] if p["overall"] >= top["overall"] else None
        same = nfe_to_reach(curve, p["overall"])
        out.append({"policy": p["name"], "overall": p["overall"], "mean_nfe": p["mean_nfe"],
                    "best_of_n_at_equal_nfe": None if at is None else round(at, 4),
                    "best_of_n_nfe_for_equal_accuracy": None if same is None else round(same, 1),
                    "gain": None if at is None else round(p["overall"] - at, 4), "gain_per_tag": tags,
                    f"reaches_best_of_{top['n']}": p["overall"] >= top["overall"],
                    f"nfe_share_of_best_of_{top['n']}": None if reach is None else round(reach, 3)})
    return out


def run_agent_bench(suite: list[dict], *, arms: list[str], policies: list[str], ns: list[int] = list(NS),
                    seed: int = 0, model: str | None = None, out: Path | None = None,
                    progress: Callable[[str], None] | None = None, rates: str | None = None) -> dict:
    """``rates``: set every policy's ``rates`` (``none`` to learn a table from full rounds, independent of the
    table shipped today); None keeps each policy's own."""
    from limner.tools.generators import resolve_model

    for arm in arms:
        if arm not in ARMS:
            raise ValueError(f"unknown verifier arm '{arm}' (known: {', '.join(ARMS)})")
    spec = resolve_model(model)  # the model the runs use (LIMNER_MODEL, else shapes-tiny)
    unit = spec.nfe_per_candidate()
    work = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="limner-bench-agent-"))
    policy_dir = work / "policies"
    policy_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    result: dict = {"model": spec.alias, "suite_prompts": len(suite), "nfe_per_sample": unit, "seed": seed, "ns": ns,
                    "policies": policies, "rates": rates or "as each policy says", "arms": {},
                    "runs_dir": str(work / "runs")}
    for arm in arms:
        entry: dict = {"answerer": ARMS[arm], "oracle": arm == "oracle", "baselines": [], "policies": [], "rows": {}}
        for n in ns:
            name = f"best-of-{n}"
            if progress:
                progress(f"{arm}: {name}")
            rows = run_arm(best_of_n_policy(n, arm, policy_dir, unit), suite, seed, work / "runs", model)  # one round
            entry["baselines"].append({"name": name, "n": n, **summarise(rows)})
            entry["rows"][name] = rows
        for policy in policies:
            if progress:
                progress(f"{arm}: {policy}")
            rows = run_arm(arm_policy(policy, arm, policy_dir, **({"rates": rates} if rates else {})), suite, seed,
                           work / "runs", model)
            entry["policies"].append({"name": policy, **summarise(rows)})
            entry["rows"][policy] = rows
        entry["pareto"] = pareto(entry["baselines"] + entry["policies"])
        entry["comparison"] = compare(entry)
        result["arms"][arm] = entry
    result["seconds"] = round(time.perf_counter() - start, 1)
    return result


def table(result: dict) -> str:
    lines = []
    for arm, entry in result["arms"].items():
        label = f"{arm} verifier (checks answered by the {entry['answerer']}" + (
            ": an oracle, an upper bound)" if entry["oracle"] else ")")
        lines.append(label)
        tags = list(entry["baselines"][0]["tags"])
        lines.append(f"  {'arm':<13} {'overall':>7} {'NFE':>7} {'p90':>6} {'verif':>6} {'llm':>5} {'sec':>6}  "
                     + " ".join(f"{t[:10]:>10}" for t in tags))
        for row in entry["baselines"] + entry["policies"]:
            mark = "*" if row["name"] in entry["pareto"] else " "
            lines.append(f"{mark} {row['name']:<13} {row['overall']:7.3f} {row['mean_nfe']:7.1f} {row['p90_nfe']:6.0f} "
                         f"{row['mean_verifier_calls']:6.2f} {row['mean_llm_calls']:5.2f} {row['mean_seconds']:6.2f}  "
                         + " ".join(f"{row['tags'].get(t, float('nan')):10.3f}" for t in tags))
        for row in entry["policies"]:  # the worst verdict: passed by the run, wrong by the scorer
            if "false_passes_by_tag" not in row:
                continue
            share = row["false_passes"] / row["passed"] if row["passed"] else 0.0
            lines.append(f"  {row['name']}: false passes {row['false_passes']} of {row['passed']} passed ({share:.1%}), "
                         f"unverified {row['unverified']}; by tag: " + ", ".join(
                             f"{t} {f}/{p}" for t, (f, p) in row["false_passes_by_tag"].items()))
        top = max(b["n"] for b in entry["baselines"])
        for c in entry["comparison"]:
            share = c[f"nfe_share_of_best_of_{top}"]
            gain = "outside best-of-N's range" if c["gain"] is None else f"{c['gain']:+.3f}"
            lines.append(f"  {c['policy']}: {c['overall']:.3f} at {c['mean_nfe']:g} NFE; best-of-N there "
                         f"{c['best_of_n_at_equal_nfe'] if c['best_of_n_at_equal_nfe'] is not None else '-'} "
                         f"(gain {gain}); reaches best-of-{top}: "
                         + (f"yes, at {share:.2f}x its NFE" if share is not None else "no"))
        lines.append("")
    first = next(iter(result["arms"].values()))["baselines"][0]  # every arm and row runs the same suite
    totals = {tag: total for tag, (_, total) in first["counts"].items()}
    if len(set(totals.values())) == 1:
        n_tag = next(iter(totals.values()))
        noise = f"one prompt is {1 / n_tag:.3f} of a tag's accuracy ({n_tag} prompts per tag)"
    else:
        noise = "one prompt is, of its tag's accuracy: " + ", ".join(
            f"{tag} {1 / n:.3f} ({n})" for tag, n in totals.items())
    lines.append(f"* on the Pareto frontier. Noise: {noise}.")
    return "\n".join(lines)


def plot(result: dict, path) -> None:
    """Overall accuracy against mean NFE (log axis): best-of-N as one line per arm, each policy a point."""
    from limner.bench.plot import accuracy_plot

    summary, frontier = [], []
    for arm, entry in result["arms"].items():
        verifier = arm  # the plot draws the oracle's lines dashed
        for row in entry["baselines"]:
            summary.append({"strategy": "best-of-N", "verifier": verifier, "mean_nfe_charged": row["mean_nfe"],
                            "overall": row["overall"]})
        for row in entry["policies"]:
            summary.append({"strategy": row["name"], "verifier": verifier, "mean_nfe_charged": row["mean_nfe"],
                            "overall": row["overall"]})
        frontier += [(row["mean_nfe"], row["overall"]) for row in entry["baselines"] + entry["policies"]
                     if row["name"] in entry["pareto"]]
    accuracy_plot(summary, f"ShapesEval ({result['suite_prompts']} prompts): agent vs best-of-N", path,
                  frontier=frontier)
