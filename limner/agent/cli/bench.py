"""``limner bench ...``: benchmarks that print numbers and write JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from limner.agent.cli.help import App

bench_app = App(help="Benchmarks: print a table and write results as JSON.", no_args_is_help=True)


@bench_app.command("shapes")
def shapes(
    suite: Optional[Path] = typer.Option(None, help="Suite file in GenEval's metadata format (default: the shipped one)."),
    samples: int = typer.Option(4, min=1, help="Images per prompt."),
    out: Path = typer.Option(Path("results.json"), "--results", help="The results JSON file to write."),
    model: Optional[str] = typer.Option(None, help="Model alias, hub id or folder (default: shapes-tiny)."),
    images: Optional[Path] = typer.Option(None, help="Score an existing GenEval-layout folder instead of generating."),
    save_images: Optional[Path] = typer.Option(None, help="Also write the generated images in GenEval's layout."),
    per_tag: Optional[int] = typer.Option(None, min=1, help="Use only the first N prompts of each tag (quick runs)."),
    seed: int = typer.Option(0, help="Base seed; image k of prompt i uses seed + i * samples + k."),
    steps: Optional[int] = typer.Option(None, min=1, help="Override the model's denoising steps."),
    guidance: Optional[float] = typer.Option(None, min=0.0, help="Override the model's guidance scale."),
    grid: Optional[Path] = typer.Option(None, help="Save a contact sheet (PNG) of the first 96 images, marked right/wrong."),
    policy: Optional[str] = typer.Option(None, "--policy", "-p", help=(
        "Run the whole agent under this policy for every prompt and seed (its final image is scored) "
        "instead of one plain sample per seed.")),
):
    """ShapesEval: GenEval's rules on the exact shapes parser, per tag and overall."""
    from limner.agent.cli.common import _fail
    from limner.agent.errors import UsageError

    from limner.bench.shapes import table

    if images is not None:
        from limner.tools.shapes.geneval import metadata_problem, read_geneval_folder, score_folder, summarize

        try:
            found = read_geneval_folder(images) if images.is_dir() else []
        except ValueError as exc:
            _fail(str(exc))
        if not found:
            _fail(f"{images} is not a GenEval image folder (<dir>/00000/metadata.jsonl + samples/0000.png)")
        untagged = [m.get("prompt") for m, _ in found if "tag" not in m or "include" not in m]
        if untagged:  # written from plain briefs (JSONL or YAML), not from GenEval's metadata: nothing to score by
            _fail(f"{images} holds {len(untagged)} prompts without GenEval's tag and include (e.g. "
                  f"'{untagged[0]}'): ShapesEval scores folders written from GenEval-format metadata")
        bad = next(((m, why) for m, _ in found if (why := metadata_problem(m))), None)
        if bad is not None:
            _fail(f"{images}: the metadata of '{str(bad[0].get('prompt'))[:60]}' cannot be scored: {bad[1]}")
        try:
            results = score_folder(images)
        except ValueError as exc:
            _fail(str(exc))
        summary = {**summarize(results), "source": str(images)}
    else:
        from rich.progress import Progress

        from limner.tools.generators.diffusers_backend import ModelUnavailable
        from limner.bench.shapes import model_source, run_bench
        from limner.tools.shapes.suite import limit_per_tag, load_suite

        try:
            prompts = limit_per_tag(load_suite(suite), per_tag)
        except (OSError, ValueError) as exc:
            _fail(f"cannot read suite {suite}: {exc}")
        try:
            if policy is not None:
                from limner.bench.agent_source import agent_source
                from limner.agent.policy import load_policy

                load_policy(policy)  # one clear line now rather than one per prompt
                if steps is not None or guidance is not None:
                    _fail("--steps and --guidance do not apply with --policy: set them in the policy's `generation`")
                source = agent_source(policy, model)
            else:
                source = model_source(model, steps=steps, guidance=guidance)
        except (ValueError, UsageError) as exc:
            _fail(str(exc))
        with Progress(transient=True) as bar:
            task = bar.add_task("ShapesEval", total=len(prompts))
            try:
                run = run_bench(source, prompts, samples=samples, seed=seed, images_dir=save_images,
                                progress=lambda done, total: bar.update(task, completed=done),
                                keep_images=96 if grid else 0)
            except ModelUnavailable as exc:
                _fail(str(exc))
        results = run["results"]
        summary = {**run["summary"], **source.describe(), "suite": str(suite or "shipped"), "seed": seed}
        if policy is not None:
            spent = source.runs
            summary["agent"] = {"runs": len(spent), "mean_nfe": round(sum(r["nfe"] for r in spent) / len(spent), 1),
                                "mean_rounds": round(sum(r["rounds"] for r in spent) / len(spent), 2),
                                "passed": sum(r["status"] == "passed" for r in spent),
                                # the agent said "passed" where the scorer says the image is wrong
                                "false_passes": sum(r["status"] == "passed" and not res["correct"]
                                                    for r, res in zip(spent, results))}
            summary["runs"] = spent
        if grid is not None:
            from limner.bench.shapes import contact_sheet

            contact_sheet(results, run["images"]).save(grid)
            typer.echo(f"wrote {grid}")
    typer.echo(table(summary))
    if "agent" in summary:
        a = summary["agent"]
        typer.echo(f"agent: {a['runs']} runs, mean NFE {a['mean_nfe']:g}, mean rounds {a['mean_rounds']:g}, "
                   f"{a['passed']} passed, {a['false_passes']} of them wrong by the scorer (false passes "
                   f"{a['false_passes'] / max(1, a['runs']):.1%} of runs)")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**summary, "results": results}, indent=1) + "\n")
    typer.echo(f"wrote {out}")


VERIFIER_ROWS = ("shapes-clip", "questions:detector", "questions:parser")


def _verifier_row(row: str):
    """``name`` or ``questions:<answerer>``: the verifier a row of the agreement table names."""
    from limner.agent.planners.rules import rules_plan
    from limner.tools.verifiers import Where, declaration, make_verifier

    name, _, answerer = row.partition(":")
    if name != "questions":
        if answerer:
            raise ValueError(f"'{row}': only questions takes an answerer (questions:detector, questions:parser)")
        return make_verifier(name)
    options = declaration("questions").prepare({"answerer": answerer or "auto"},
                                               Where(world="shapes", parseable=True, llm=False)).options
    return make_verifier("questions", plan_fn=rules_plan, **options)


@bench_app.command("verifiers")
def verifiers(
    verifier: Optional[list[str]] = typer.Option(None, "--verifier", "-v", help=(
        "Verifiers to compare; questions:ANSWERER picks who answers the checks (default: shapes-clip, "
        "questions:detector (shapes-owl), questions:parser (the scorer's own parser: an oracle)).")),
    samples: int = typer.Option(4, min=2, help="Candidates per prompt."),
    per_tag: Optional[int] = typer.Option(None, min=1, help="Use only the first N prompts of each tag."),
    suite: Optional[Path] = typer.Option(None, help="A ShapesEval metadata file (default: the shipped suite)."),
    model: Optional[str] = typer.Option(None, help="Generator (default: shapes-tiny)."),
    out: Path = typer.Option(Path("agreement.json"), "--results", help="The results JSON file to write."),
    seed: int = typer.Option(0),
):
    """How often each verifier ranks a correct candidate above a wrong one (ShapesEval's scorer decides), per
    tag; for question verifiers, how often each check's verdict matches the scorer's parser."""
    from limner.agent.cli.common import _fail

    from rich.progress import Progress

    from limner.bench.agreement import agreement
    from limner.bench.shapes import model_source
    from limner.tools.shapes.suite import limit_per_tag, load_suite

    names = list(verifier or VERIFIER_ROWS)
    try:
        made = {n: _verifier_row(n) for n in names}
        source = model_source(model)
        prompts = limit_per_tag(load_suite(suite), per_tag)
    except (ValueError, OSError) as exc:
        _fail(str(exc).splitlines()[0])
    with Progress(transient=True) as bar:
        task = bar.add_task("agreement", total=len(prompts))
        try:
            result = agreement(made, prompts, source, samples=samples, seed=seed,
                               progress=lambda done, total: bar.update(task, completed=done))
        except RuntimeError as exc:
            _fail(str(exc).splitlines()[0])
    result["model"] = source.describe()
    typer.echo(agreement_table(result, names))
    out.write_text(json.dumps(result, indent=1) + "\n")
    typer.echo(f"wrote {out}")


def agreement_table(result: dict, names: list[str]) -> str:
    """Pairwise accuracy overall and per tag, then per-check accuracy against the scorer's parser."""
    def cell(v):
        return "-" if v is None else f"{v:.3f}"

    label = {n: n + (" (oracle)" if n == "questions:parser" else "") for n in names}
    width = max(14, *(len(v) for v in label.values()))
    tags = sorted(result["by_tag"])
    lines = [f"{'verifier':<{width}} {'pairwise':>8} {'pairs':>5} " + " ".join(f"{t[:11]:>11}" for t in tags)]
    for n in names:
        lines.append(f"{label[n]:<{width}} {cell(result['pairwise_accuracy'][n]):>8} {result['pairs'][n]:>5} "
                     + " ".join(f"{cell(result['by_tag'][t].get(n)):>11}" for t in tags))
    kinds = sorted({k for d in result["check_accuracy"].values() for k in d if k != "all"})
    if kinds:
        lines += ["", f"{'per-check accuracy':<{width}} " + " ".join(f"{k:>9}" for k in [*kinds, "all"])
                  + f" {'false pass':>10}"]
        for n in names:
            acc = result["check_accuracy"].get(n)
            if acc is None:
                continue
            b = result["believed_correct"][n]
            lines.append(f"{label[n]:<{width}} " + " ".join(f"{cell(acc.get(k)):>9}" for k in [*kinds, "all"])
                         + f" {b['false_pass']:>4}/{b['wrong']:<5}")
    return "\n".join(lines)


def _int_list(text: str, what: str) -> list[int]:
    from limner.agent.cli.common import _fail

    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        _fail(f"--{what} takes comma-separated whole numbers, e.g. 1,4,16")
    if not values or min(values) < 1:
        _fail(f"--{what} takes positive whole numbers, e.g. 1,4,16")
    return values


@bench_app.command("search")
def search_bench(
    quick: bool = typer.Option(False, "--quick", help="2 prompts per tag and budgets 1,4,16 (about 12 minutes on 2 CPU cores)."),
    budgets: Optional[str] = typer.Option(None, help="NFE budgets as multiples of one plain sample (default 1,4,16,64)."),
    strategy: Optional[list[str]] = typer.Option(None, "--strategy", "-s", help="Strategies (default: all)."),
    verifier: Optional[list[str]] = typer.Option(None, "--verifier", "-v",
                                                 help="Verifiers guiding the search: shapes-clip, oracle (default both)."),
    per_tag: Optional[int] = typer.Option(None, min=1, help="Use only the first N prompts of each tag."),
    prompts_limit: Optional[int] = typer.Option(None, "--prompts", min=1,
                                                help="Use only the first N prompts (after --per-tag)."),
    samples_per_round: int = typer.Option(4, min=1, help="Candidates per round (paths: its width)."),
    seed: int = typer.Option(0),
    out: Path = typer.Option(Path("search.json"), "--results", help="The results JSON file to write."),
    plot: Path = typer.Option(Path("search.png"), help="Where to write the accuracy-versus-NFE plot (PNG)."),
):
    """Search strategies on ShapesEval: accuracy per strategy, verifier and NFE budget (ShapesEval's scorer judges)."""
    from limner.agent.cli.common import _fail

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from limner.tools.search import STRATEGIES
    from limner.bench.search import VERIFIER_NAMES, best_per_budget, run_search_bench, table
    from limner.bench.plot import accuracy_plot
    from limner.tools.shapes.suite import limit_per_tag, load_suite

    budget_list = _int_list(budgets, "budgets") if budgets else ([1, 4, 16] if quick else [1, 4, 16, 64])
    strategies = list(strategy or STRATEGIES)
    verifiers_ = list(verifier or VERIFIER_NAMES)
    for name in strategies:
        if name not in STRATEGIES:
            _fail(f"unknown strategy '{name}' (known: {', '.join(STRATEGIES)})")
    for name in verifiers_:
        if name not in VERIFIER_NAMES:
            _fail(f"unknown verifier '{name}' for this benchmark (known: {', '.join(VERIFIER_NAMES)})")
    prompts = limit_per_tag(load_suite(), per_tag or (2 if quick else None))[:prompts_limit]
    columns = [TextColumn("search bench"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("search", total=len(prompts) * len(strategies) * len(verifiers_) * len(budget_list))
        result = run_search_bench(prompts, strategies=strategies, verifiers=verifiers_, budgets=budget_list,
                                  n=samples_per_round, seed=seed,
                                  progress=lambda done, total: bar.update(task, completed=done))
    result["best_per_budget"] = best_per_budget(result["summary"], budget_list)
    typer.echo(f"ShapesEval overall accuracy ({len(prompts)} prompts, {result['model']}, "
               f"{result['nfe_per_sample']} NFE per plain sample, {result['seconds']:.0f} s)")
    typer.echo(table(result["summary"], budget_list))
    for key, best in result["best_per_budget"].items():
        typer.echo(f"best at {key}: {', '.join(best['strategies'])} ({best['overall']:.3f})")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    accuracy_plot(result["summary"], f"ShapesEval accuracy vs NFE ({len(prompts)} prompts; dashed: oracle)", plot)
    typer.echo(f"wrote {out} and {plot}")


@bench_app.command("agent")
def agent_bench(
    suite: Optional[Path] = typer.Option(None, help="A ShapesEval/GenEval metadata file (default: the shipped suite)."),
    per_tag: Optional[int] = typer.Option(None, min=1, help="Use only the first N prompts of each tag (quick runs)."),
    policy: Optional[list[str]] = typer.Option(None, "--policy", "-p", help=(
        "Policies to run (shipped names or YAML paths; default: default, fast, search, layout).")),
    ns: str = typer.Option("1,2,4,8,16", "--n", help="Best-of-N baselines: the sample counts."),
    arm: Optional[list[str]] = typer.Option(None, "--arm", help=(
        "Verifier arms: learned (the learned detector answers the checks), oracle (the exact parser: an upper "
        "bound). Default: both.")),
    model: Optional[str] = typer.Option(None, help="Generator (default: shapes-tiny)."),
    seed: int = typer.Option(0, help="Prompt i runs with seed + i in every arm."),
    out: Path = typer.Option(Path("agent.json"), "--results", help="The results JSON file to write."),
    plot: Path = typer.Option(Path("agent.png"), help="Where to write the accuracy-versus-NFE plot (PNG)."),
    runs: Optional[Path] = typer.Option(None, help="Keep the runs' folders here (default: a temporary folder)."),
    write_rates: Optional[Path] = typer.Option(None, help=(
        "Learn the decide step's rates table from the learned arm's runs and write it here (the shipped one: "
        "limner/policies/rates/<model>.json); the policies then run with full rounds (rates: none).")),
):
    """The agent against best-of-N sampling on one curve: accuracy (ShapesEval's scorer) against mean NFE."""
    from limner.agent.cli.common import _fail
    from limner.agent.errors import UsageError

    from rich.progress import Progress, TimeElapsedColumn, TextColumn

    from limner.bench.agent_curve import ARMS, POLICIES, plot as draw, run_agent_bench, table
    from limner.agent.policy import load_policy
    from limner.tools.shapes.suite import limit_per_tag, load_suite

    arms = list(arm or ARMS)
    for a in arms:
        if a not in ARMS:
            _fail(f"unknown verifier arm '{a}' (known: {', '.join(ARMS)})")
    if write_rates is not None and "learned" not in arms:
        _fail("--write-rates learns from the learned arm's runs: add --arm learned")
    policies = list(policy or POLICIES)
    try:
        for p in policies:
            load_policy(p)
        prompts = limit_per_tag(load_suite(suite), per_tag)
    except (OSError, ValueError, UsageError) as exc:
        _fail(str(exc).splitlines()[0])
    with Progress(TextColumn("{task.description}"), TimeElapsedColumn(), transient=True) as bar:
        task = bar.add_task("agent bench")
        result = run_agent_bench(prompts, arms=arms, policies=policies, ns=_int_list(ns, "n"), seed=seed,
                                 model=model, out=runs, progress=lambda what: bar.update(task, description=what),
                                 rates="none" if write_rates is not None else None)  # learn from full rounds
    typer.echo(f"ShapesEval, {len(prompts)} prompts, {result['model']}, {result['nfe_per_sample']} NFE per plain sample, "
               f"{result['seconds']:.0f} s")
    typer.echo(table(result))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    plot.parent.mkdir(parents=True, exist_ok=True)
    draw(result, plot)
    typer.echo(f"wrote {out} and {plot}")
    if write_rates is not None:
        import shlex

        from limner.bench.learn_rates import learn_rates, write_rates as save_rates

        folders = [Path(result["runs_dir"]) / r["run_id"] for rows in result["arms"]["learned"]["rows"].values()
                   for r in rows]
        at = load_policy(policies[0]).threshold  # the table serves the first policy: every run judged at its threshold
        save_rates(learn_rates(folders, threshold=at), write_rates, model=result["model"], runs=len(folders),
                   threshold=at,
                   command=shlex.join(["limner", "bench", "agent", *(["--suite", str(suite)] if suite else []),
                                       *(["--per-tag", str(per_tag)] if per_tag else []),
                                       *[a for p in policies for a in ("--policy", p)], "--n", ns,
                                       *[a for x in arms for a in ("--arm", x)], "--seed", str(seed),
                                       *(["--model", model] if model else []), "--write-rates", str(write_rates)]))
        typer.echo(f"wrote {write_rates} (rates from {len(folders)} runs)")


def _write(result: dict, out: Path) -> None:
    out.write_text(json.dumps(result, indent=1) + "\n")
    typer.echo(f"wrote {out}")


@bench_app.command("grounding")
def grounding_bench(
    model: str = typer.Option(..., help="A grounded model (GLIGEN: boxes condition it), alias, hub id or folder."),
    scenes: int = typer.Option(64, min=1, help="Held-out shapes scenes (1-4 objects each)."),
    mode: Optional[list[str]] = typer.Option(None, "--mode", help="grounded, regional, prompt (default: all three)."),
    out: Path = typer.Option(Path("grounding.json"), "--results", help="The results JSON file to write."),
    grid_png: Optional[Path] = typer.Option(None, "--grid", help="Instead: write a PNG of one prompt, boxes moved."),
    beta: Optional[float] = typer.Option(None, min=0.0, max=1.0, help="Share of steps that take the boxes "
                                         "(default: the model's grounding_beta)."),
):
    """Do objects land in the boxes they are given? The exact parser reads each image (an upper bound on what a
    detector would say); the same model's regional and prompt-only generations for comparison."""
    from limner.bench.grounding import grid, heldout_scenes, measure
    from limner.agent.cli.common import _fail

    from limner.tools.generators import resolve_model

    modes = mode or ["grounded", "regional", "prompt"]
    unknown = [m for m in modes if m not in {"grounded", "regional", "prompt"}]
    if unknown:
        _fail(f"unknown mode '{unknown[0]}': grounded, regional or prompt")
    try:
        caps = resolve_model(model).caps
    except ValueError as exc:
        _fail(str(exc))
    why = caps.lacks("grounded") if "grounded" in modes or grid_png else None
    why = why or (caps.lacks("regional") if "regional" in modes else None)
    if why:
        _fail(f"{model}: {why}")
    if grid_png is not None:
        typer.echo(f"wrote {grid(model, str(grid_png), beta=beta)}")
        return
    held = heldout_scenes(scenes)
    rows = []
    for m in modes:
        r = measure(model, m, held, beta=beta)
        rows.append(r)
        beta_note = f" beta {r['beta']:g}" if "beta" in r else ""
        typer.echo(f"{r['model']:22s} {m:9s}{beta_note} in their box {r['obeyed']:.3f}  whole scene "
                   f"{r['scenes_exact']:.3f}  ({r['objects']} objects, {r['nfe']} NFE, {r['seconds']:.0f}s)")
    _write({"scenes": scenes, "rows": rows}, out)


@bench_app.command("overhead")
def overhead_bench(
    repeats: int = typer.Option(3, min=1, help="Runs per brief (after one warm-up run)."),
    model: Optional[str] = typer.Option(None, help="Model alias (default: shapes-tiny)."),
    policy: str = typer.Option("default", help="Policy the runs use."),
    out: Path = typer.Option(Path("overhead.json"), "--results", help="The results JSON file to write."),
):
    """Where a run's wall time goes: model compute (hooks on forward passes), LLM, and the agent's overhead."""
    from limner.bench.perf import overhead
    from limner.bench.timer import fmt

    r = overhead(repeats=repeats, model=model, policy=policy)
    typer.echo(f"{len(r['runs'])} runs of {r['model']} / {r['policy']} (model load in the warm-up: "
               f"{r['load_seconds']:.1f}s)")
    typer.echo(f"wall per run         {fmt(r['wall'], 's')}")
    for kind, share in r["share_of_wall"].items():
        typer.echo(f"  {kind:26s} {100 * share:5.1f}% of wall")
    typer.echo(f"overhead share       {fmt(r['overhead_share'], '%', 100, 2)}  (median [min-max] over runs)")
    typer.echo(f"  of it Limner's     {fmt(r['limner_share'], '%', 100, 2)}  (the rest is diffusers' own loop)")
    typer.echo(f"overhead per step    {fmt(r['per_step_ms'], ' ms', 1, 2)}  (graph steps incl. checkpoint writes)")
    typer.echo(f"  of it Limner's     {fmt(r['limner_per_step_ms'], ' ms', 1, 2)}")
    typer.echo(f"per run: Limner's    {fmt(r['limner_ms_per_run'], ' ms', 1, 1)}, diffusers' loop "
               f"{fmt(r['diffusers_loop_ms_per_run'], ' ms', 1, 1)}")
    c = r["prompt_cache"]
    typer.echo(f"prompt embeddings    {c['hits']} kept, {c['misses']} encoded (prompts repeat across repeats)")
    _write(r, out)


@bench_app.command("serve")
def serve_bench(
    model: Optional[str] = typer.Option(None, help="Model alias (default: shapes-tiny)."),
    clients: str = typer.Option("1,4,16", help="Concurrent clients to measure, comma-separated."),
    per_client: int = typer.Option(2, min=1, help="Requests each client sends, one after another."),
    cli_repeats: int = typer.Option(3, min=1, help="Cold `limner run` processes to time."),
    cancel_trials: int = typer.Option(5, min=1, help="Jobs cancelled mid-round."),
    kills: int = typer.Option(20, min=0, help="SIGKILLs of the server mid-job (0: skip)."),
    fuzz: int = typer.Option(10, min=0, help="Schemathesis examples per operation (0: skip)."),
    out: Path = typer.Option(Path("serve.json"), "--results", help="The results JSON file to write."),
):
    """A warm `limner serve` against cold `limner run`: first image, latency at N clients, cancel, kills, fuzz."""
    from limner.bench.service import bench

    r = bench(model=model, clients=tuple(_int_list(clients, "--clients")), per_client=per_client,
              cli_repeats=cli_repeats, cancel_trials=cancel_trials, kill_count=kills, fuzz_examples=fuzz)
    typer.echo(f"{r['model']}, brief {r['prompt']!r}")
    typer.echo(f"cold `limner run`, per image      {r['cli_seconds_per_image']:.2f}s")
    typer.echo(f"service up (health answers)        {r['server_up_seconds']:.2f}s")
    typer.echo(f"start -> first image               {r['first_image_seconds']:.2f}s (its request "
               f"{r['first_request_seconds']:.2f}s)")
    typer.echo("clients  requests  answered  p50 s   p95 s   per min  s/image  vs run  overhead")
    for c in r["concurrency"]:
        share = f"{100 * c['overhead_share']:.1f}%" if c["overhead_share"] is not None else "-"
        typer.echo(f"{c['clients']:7d}  {c['requests']:8d}  {c['answered']:8d}  {c['p50']:6.2f}  {c['p95']:6.2f}  "
                   f"{c['per_minute']:7.1f}  {c['seconds_per_image']:7.2f}  "
                   f"{r['cli_seconds_per_image'] / c['seconds_per_image']:5.1f}x  {share}")
    k = r["cancel"]
    typer.echo(f"cancel -> ended event              median {k['median_seconds'] * 1000:.0f} ms, max "
               f"{k['max_seconds'] * 1000:.0f} ms ({k['cancelled']}/{k['trials']} cancelled; one step "
               f"{k['step_seconds'] * 1000:.0f} ms)")
    f = r["fuzz"]
    typer.echo("fuzz: " + (f["skipped"] if "skipped" in f else f"{f['operations']} operations, {f['failures']} "
                           f"failures, {f['errors']} errors (schemathesis exit {f['exit']})"))
    typer.echo(f"worker after fuzz: {r['worker_after_fuzz']['worker']}; tracebacks in the server log: "
               f"{r['tracebacks_in_server_log']}")
    k = r["faults"]
    typer.echo("kills: " + (k["skipped"] if "skipped" in k else f"{k['kills']} SIGKILLs, {k['jobs']} jobs, "
                            f"{k['mid_generation']} landed mid-generation, {k['requeued']} jobs taken up again, "
                            f"{k['ended_once']} ended exactly once, "
                            f"problems: {k['problems'] or 'none'}"))
    _write(r, out)


@bench_app.command("throughput")
def throughput_bench(
    candidates: int = typer.Option(4, "-n", min=1, help="Candidates per batch."),
    repeats: int = typer.Option(5, min=1, help="Timed repeats (interleaved)."),
    model: Optional[str] = typer.Option(None, help="Model alias (default: shapes-tiny)."),
    out: Path = typer.Option(Path("throughput.json"), "--results", help="The results JSON file to write."),
):
    """Candidates per second: Limner's generate vs a plain diffusers batched call vs one call per candidate."""
    from limner.bench.perf import throughput
    from limner.bench.timer import fmt

    r = throughput(n=candidates, repeats=repeats, model=model)
    typer.echo(f"{r['model']} on {r['device']} ({r['dtype']}), {r['candidates']} candidates, {r['repeats']} repeats")
    for name, s in r["seconds"].items():
        typer.echo(f"  {name:24s} {fmt(s, 's')}  {r['candidates_per_second'][name]:.2f} candidates/s")
    typer.echo(f"limner / plain batched        {r['limner_vs_plain']:.3f}x  (same images: {r['same_images_as_plain']})")
    typer.echo(f"limner / one call per cand.   {r['limner_vs_one_call_per_candidate']:.2f}x")
    typer.echo(f"prompt embeddings kept        {r['prompt_cache_speedup']:.3f}x  (against encoding every call)")
    v = r["verifier"]
    typer.echo(f"{v['name']}: batched {fmt(v['seconds']['batched'], 's', 1, 4)}, one per image "
               f"{fmt(v['seconds']['one_per_image'], 's', 1, 4)}: {v['batched_vs_one_per_image']:.2f}x; "
               f"text embeddings kept: {v['text_cache_speedup']:.2f}x")
    _write(r, out)


@bench_app.command("startup")
def startup_bench(
    repeats: int = typer.Option(5, min=1, help="Repeats of `limner --help` (and half as many runs)."),
    out: Path = typer.Option(Path("startup.json"), "--results", help="The results JSON file to write."),
):
    """Time to `limner --help`, to the first image of `limner run`, and the run's peak memory."""
    from limner.bench.perf import startup
    from limner.bench.timer import fmt

    r = startup(repeats=repeats)
    typer.echo(f"limner --help          {fmt(r['help_seconds'], 's')}  (imports torch: {r['help_imports_torch']})")
    typer.echo(f"first image of a run   {fmt(r['first_image_seconds'], 's')}")
    typer.echo(f"whole run (1 round)    {fmt(r['run_seconds'], 's')}")
    typer.echo(f"peak resident memory   {r['peak_rss_mb']:.0f} MB")
    _write(r, out)


@bench_app.command("batch")
def batch_bench(
    file: Optional[Path] = typer.Option(None, "--briefs", help="Brief file (default: the shipped suite, --per-tag)."),
    per_tag: int = typer.Option(3, min=1, help="Prompts per tag of the shipped suite when --briefs is not given."),
    workers: str = typer.Option("1,2", help="Ray pool sizes to time, e.g. 1,2,4."),
    policy: Optional[str] = typer.Option(None, "--policy", "-p", help="Policy for every brief (default: default)."),
    out: Path = typer.Option(Path("batch.json"), "--results", help="The results JSON file to write."),
):
    """Briefs per minute: the local batch runner against Ray pools of --workers (each arm a fresh folder)."""
    import tempfile

    from limner.bench.batch_scaling import batch_scaling, table
    from limner.agent.cli.common import _fail
    from limner.agent.errors import UsageError

    if file is None:
        from limner.tools.shapes.suite import limit_per_tag, load_suite

        file = Path(tempfile.mkdtemp(prefix="limner-bench-briefs-")) / "briefs.jsonl"
        file.write_text("".join(json.dumps(m) + "\n" for m in limit_per_tag(load_suite(), per_tag)))
    try:
        r = batch_scaling(file, _int_list(workers, "workers"), policy=policy)
    except UsageError as exc:
        _fail(str(exc))
    typer.echo(f"{len(r['arms'])} arms, {r['arms'][0]['briefs']} briefs, policy {r['policy']}, {r['cpus']} CPUs")
    typer.echo(table(r))
    _write(r, out)


@bench_app.command("reliability")
def reliability_bench(
    quick: bool = typer.Option(False, "--quick", help="The quick sizes (about 12 minutes on 2 cores): >= 1,000 "
                               "generated inputs, >= 200 mutated answers, 20 kills per front door."),
    out: Path = typer.Option(Path("reliability.json"), "--results", help="The results JSON file to write."),
    seed: int = typer.Option(0, help="Seed of the generated inputs, mutations and kill moments."),
    work: Optional[Path] = typer.Option(None, help="Keep every folder the bench wrote here (default: a temporary "
                                        "folder, removed after)."),
    only: list[str] = typer.Option([], "--only", help="Run only this section (repeat): inputs, llm, kills, disk, "
                                   "concurrency."),
):
    """Nothing breaks, nothing is lost, no one gets in: generated bad input through every front door, mutated LLM
    answers, SIGKILL at random moments, a full disk, concurrent runs, secrets searched for. Exit 1 if any failure
    column is not zero."""
    from limner.agent.cli.common import _fail

    from limner.bench.reliability import SECTIONS, run_reliability, table

    unknown = [s for s in only if s not in SECTIONS]
    if unknown:
        _fail(f"unknown section '{unknown[0]}': use {', '.join(SECTIONS)}")
    try:
        import hypothesis  # noqa: F401
        import pexpect  # noqa: F401
    except ImportError as exc:
        _fail(f"the reliability bench needs {exc.name}: pip install 'limner[test]'")
    result = run_reliability(quick=quick, seed=seed, work=work, only=only or None,
                             say=lambda text: typer.echo(text, err=True))
    typer.echo(table(result))
    _write(result, out)
    raise typer.Exit(1 if result["failures"] else 0)


def _rules_planner(spacy: bool, nlp=None):
    """The rules planner, with the spaCy reader when asked (one line and exit 2 when spaCy is missing)."""
    from limner.agent.cli.common import _fail
    from limner.agent.errors import UsageError
    from limner.agent.planners.reading import SpacyReader
    from limner.agent.planners.rules import RulesPlanner

    try:
        return RulesPlanner(SpacyReader(nlp) if spacy else None)
    except UsageError as exc:
        _fail(str(exc))


@bench_app.command("plans")
def plans_bench(
    split: str = typer.Option("dev", help="The compositional suite's split: dev (phrasings to tune on), test or "
                                          "holdout (measure only)."),
    suite: Optional[Path] = typer.Option(None, help="Another suite file with stated scene graphs ('graph')."),
    planner: str = typer.Option("rules", help="rules, rules-spacy (with spaCy's part-of-speech tags), llm "
                                               "(cross-checked by the rules reader) or llm-raw (the LLM's reading "
                                               "alone); the LLM needs LIMNER_LLM_BASE_URL."),
    limit: Optional[int] = typer.Option(None, min=1, help="Only the first N briefs of each tag."),
    out: Optional[Path] = typer.Option(None, "--results", help="Write every plan's verdict to this JSON file."),
    show: int = typer.Option(0, help="Print this many wrong plans with what they missed."),
):
    """Plan accuracy on the compositional suite: entities, relations and exclusions read exactly, per tag;
    silent losses (a part of the brief neither planned nor listed as unplanned). Nothing is generated."""
    from limner.bench.plan_accuracy import run as run_plans, table
    from limner.agent.cli.common import _fail
    from limner.tools.shapes.suite import limit_per_tag

    if split not in ("dev", "test", "holdout"):
        _fail(f"unknown split '{split}': use dev, test or holdout")
    from limner.tools.shapes.compose import shipped

    path = suite or shipped(split)
    try:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError) as exc:
        _fail(f"cannot read suite {path}: {str(exc).splitlines()[0]}")
    if not rows or not all(isinstance(r, dict) and "prompt" in r and ("graph" in r or "include" in r) for r in rows):
        _fail(f"{path} has no rows with a 'prompt' and a stated 'graph' (or GenEval's 'include')")
    rows = limit_per_tag(rows, limit)
    if planner in ("llm", "llm-raw"):
        from limner.agent.config import Settings
        from limner.agent.llm import home_client
        from limner.agent.planners.llm import LLMPlanner

        settings = Settings()
        if not settings.llm_configured:
            _fail("the llm planner needs an LLM endpoint: set LIMNER_LLM_BASE_URL and LIMNER_LLM_MODEL")
        made = LLMPlanner(home_client(settings), crosscheck=planner == "llm")
    elif planner in ("rules", "rules-spacy"):
        made = _rules_planner(spacy=planner == "rules-spacy")
    else:
        _fail(f"unknown planner '{planner}': use rules, rules-spacy, llm or llm-raw")
    result = run_plans(rows, made)
    typer.echo(f"plan accuracy, {path.name}, planner {planner}, {len(rows)} briefs")
    typer.echo(table(result))
    for r in [r for r in result["results"] if not r["correct"]][:show]:
        typer.echo(f"- {r['prompt']!r}: missing {r['missing']} extra {r['extra']}" + (f" {r['error']}" if r['error'] else ""))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1) + "\n")


@bench_app.command("briefs")
def briefs_bench(
    files: Optional[list[Path]] = typer.Argument(None, help="Brief files: GenEval metadata (JSON lines) or one "
                                                            "prompt per line (default: benchmarks/public/'s sets)."),
    out: Optional[Path] = typer.Option(None, "--results", help="Write every brief's reading to this JSON file."),
    show: int = typer.Option(0, help="Print this many random plans of each source."),
    reader: str = typer.Option("rules", help="rules (word lists) or spacy (the same grammar with spaCy's tags)."),
):
    """Public briefs through the rules planner: crashes, what was planned, and every noun phrase (spaCy's
    noun chunks) planned or listed unplanned, per source. Nothing is generated."""
    from limner.bench.briefs import read_briefs, run as run_briefs, sample, table
    from limner.agent.cli.common import _fail
    from limner.agent.planners.reading import load_spacy

    if not files:
        root = Path("benchmarks/public")
        files = sorted(root.glob("*/*.jsonl")) + sorted(root.glob("*/*_val.txt"))
        if not files:
            _fail("no brief files given, and no benchmarks/public/ folder here: give FILES")
    briefs = []
    for path in files:
        try:
            briefs += [(f"{path.parent.name}/{path.stem}", text) for text in read_briefs(path)]
        except (OSError, ValueError, KeyError) as exc:
            _fail(f"cannot read {path}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
    if reader not in ("rules", "spacy"):
        _fail(f"unknown reader '{reader}': use rules or spacy")
    nlp = load_spacy()
    result = run_briefs(briefs, _rules_planner(spacy=reader == "spacy", nlp=nlp), nlp=nlp)
    typer.echo(table(result))
    for source in dict.fromkeys(r["source"] for r in result["rows"]):
        for row in sample(result["rows"], source, show):
            typer.echo(f"- {row['brief']!r}: objects {row['objects']}, {row['relations']} relations, "
                       f"exclusions {row['exclusions']}, unplanned {row['unplanned']}"
                       + (f", LOST {row['lost']}" if row["lost"] else ""))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1) + "\n")


def _need_photographs() -> None:
    """Exit 2 with the fix when scikit-image (whose photographs the calibration benches use) is missing."""
    from limner.agent.cli.common import _fail

    try:
        import skimage  # noqa: F401
    except ImportError:
        _fail("this bench uses scikit-image's photographs: pip install scikit-image")


@bench_app.command("preservation")
def preservation_bench(
    out: Path = typer.Option(Path("benchmarks/results/preservation.json"), "--results",
                             help="Where the calibration and both sets' numbers go."),
):
    """Calibrate the edit preservation check: its threshold from the development pairs, then measured on the
    held-out test pairs (shapes scenes and scikit-image photographs; kept vs broken outside the region)."""
    _need_photographs()
    from limner.bench.preservation import calibrate

    result = calibrate()
    typer.echo(f"threshold chosen on dev: {result['chosen_threshold']} (mean absolute difference of the worst "
               "window, 0-255, after smoothing)")
    typer.echo("| set | pairs | kept | broken | worst kept | mildest broken | right | false passes | false failures |")
    typer.echo("|---|---|---|---|---|---|---|---|---|")
    for name in ("dev", "test"):
        r = result[name]
        typer.echo(f"| {name} | {r['pairs']} | {r['kept']} | {r['broken']} | {r['worst_kept']} | "
                   f"{r['mildest_broken']} | {r['accuracy']:.4f} | {r['false_passes']} | {r['false_failures']} |")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")


@bench_app.command("structure")
def structure_bench(
    out: Path = typer.Option(Path("benchmarks/results/structure.json"), "--results",
                             help="Where the calibration and both sets' numbers go."),
):
    """Calibrate the restyle's structure check: its threshold from the development pairs (shapes scenes), then
    measured on the held-out test pairs (shapes scenes and scikit-image photographs; a new look vs a changed
    composition)."""
    _need_photographs()
    from limner.bench.structure import calibrate

    result = calibrate()
    typer.echo(f"threshold chosen on dev: {result['chosen_threshold']} (the worst kept shapes pair: the share of "
               "unmatched outline pixels in the worst window)")
    typer.echo("| set | images of | pairs | kept | broken | right | false passes | false failures |")
    typer.echo("|---|---|---|---|---|---|---|---|")
    for name in ("dev", "test"):
        for world, r in result[name]["by_set"].items():
            typer.echo(f"| {name} | {world} | {r['pairs']} | {r['pairs'] - r['broken']} | {r['broken']} | "
                       f"{r['right']} | {r['false_passes']} | {r['false_failures']} |")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")


@bench_app.command("sessions")
def sessions_bench(
    per_kind: int = typer.Option(30, min=1, help="Sessions (edit turns) per intent kind."),
    kinds: Optional[str] = typer.Option(None, help="Comma-separated kinds (default: all eight)."),
    seed: int = typer.Option(0),
    reader: str = typer.Option("rules", help="rules, or llm (LIMNER_LLM_BASE_URL) to read the person's words."),
    out: Path = typer.Option(Path("benchmarks/results/sessions.json"), "--results"),
    keep: Optional[Path] = typer.Option(None, help="Keep the sessions' run folders here (default: a temporary "
                                        "folder, deleted after)."),
):
    """Scripted chat sessions on the embedded model: each edit turn judged by the independent shapes parser (the
    change happened, everything else kept) beside what Limner said; false passes counted."""
    import tempfile
    from contextlib import nullcontext

    from limner.agent.cli.common import _fail
    from limner.bench.sessions import KINDS, run_sessions

    chosen = tuple(k.strip() for k in kinds.split(",")) if kinds else KINDS
    if any(k not in KINDS for k in chosen):
        _fail(f"unknown kind in {kinds!r}: choose from {', '.join(KINDS)}")

    def show(row):
        typer.echo(f"{row['kind']:10} {row['turn'][:44]:44} right={row['right']!s:5} said_done={row['said_done']!s:5}"
                   f" {row['seconds']}s")

    with (nullcontext(keep) if keep else tempfile.TemporaryDirectory()) as folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        result = run_sessions(Path(folder), per_kind, chosen, seed, reader, on_row=show)
    typer.echo("| kind | turns | right | Limner said done | false passes |")
    typer.echo("|---|---|---|---|---|")
    for kind, r in result["by_kind"].items():
        typer.echo(f"| {kind} | {r['turns']} | {r['right']} | {r['said_done']} | {r['false_passes']} |")
    typer.echo(f"| all | {result['turns']} | {result['right']:.2%} | {result['said_done']} | "
               f"{result['false_passes']} ({result['false_pass_rate']:.2%}) |")
    typer.echo(f"undo after an edit: {result['undo']['right']} of {result['undo']['turns']} back where they were")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")


def _detector_bench_inputs(dev: Path, test: Optional[Path], detector: Optional[Path], gather, what: str):
    """``({"dev": ..., "test": ...}, detector ref or None)``: what ``gather`` finds in each folder; one line and
    exit 2 when a folder has none, or ``detector`` is not a detector folder."""
    from limner.agent.cli.common import _fail

    sets = {"dev": dev, **({"test": test} if test else {})}
    found = {name: gather(folder) for name, folder in sets.items()}
    for name, items in found.items():
        if not items:
            _fail(f"no {what} under {sets[name]}: keep a session bench's runs with --keep")
    if detector is not None and not (detector / "config.json").is_file():
        _fail(f"--detector {detector}: not a detector folder (no config.json)")
    return found, (str(detector) if detector else None)


@bench_app.command("inventory")
def inventory_bench(
    dev: Path = typer.Option(..., help="Development images: run folders (limner bench sessions --keep)."),
    test: Optional[Path] = typer.Option(None, help="Test images, measured once with the doubt chosen on dev."),
    out: Path = typer.Option(Path("benchmarks/results/inventory.json"), "--results"),
    detector: Optional[Path] = typer.Option(None, help="A detector folder to measure (default: the shipped "
                                                       "shapes-owl), e.g. one just trained."),
):
    """Choose the embedded detector's doubt score (the weakest box that fails "nothing else is there") on
    development images, judged by the shapes parser; then measure it on test images."""
    from limner.bench.inventory import choose, images, measure

    paths, ref = _detector_bench_inputs(dev, test, detector, images, "candidate images")
    result = {"detector": ref or "builtin", "dev": {"folder": str(dev), "rows": measure(paths["dev"], detector=ref)}}
    chosen = choose(result["dev"]["rows"])
    if test:  # the first row is the threshold itself: no doubt, the detector as it was
        first = float(next(iter(result["dev"]["rows"])))
        result["test"] = {"folder": str(test), "rows": measure(paths["test"], grid=(first, chosen), detector=ref)}
    for name in ("dev", "test"):
        if name not in result:
            continue
        measured = result[name]
        typer.echo(f"{name}: | doubt | images | objects | images missing one | images with an invented one | missed | invented |")
        for t, r in measured["rows"].items():
            typer.echo(f"| {t} | {r['images']} | {r['objects']} | {r['miss_images']} | {r['invent_images']} | "
                       f"{r['missed']} | {r['invented']} |")
    result["chosen"] = chosen
    typer.echo(f"chosen on dev: doubt {chosen}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")


@bench_app.command("confidence")
def confidence_bench(
    dev: Path = typer.Option(..., help="Development candidates: run folders (limner bench sessions --keep)."),
    test: Optional[Path] = typer.Option(None, help="Test candidates, measured once with the level chosen on dev."),
    out: Path = typer.Option(Path("benchmarks/results/confidence.json"), "--results"),
    detector: Optional[Path] = typer.Option(None, help="A detector folder (default: the shipped shapes-owl)."),
):
    """Choose the embedded detector's confident level (how surely a box must be read to pass a check that
    something is there) on the candidates that passed in development runs, judged by the shapes parser; then
    measure it on test candidates."""
    from limner.bench.confidence import choose, grid_for, measure, passed_candidates
    from limner.tools.verifiers.detector import folder_settings
    from limner.tools.verifiers.requirements import BUILTIN_SHAPES_DETECTOR

    items, ref = _detector_bench_inputs(dev, test, detector, passed_candidates, "passed candidates")
    grid = grid_for(float(folder_settings(ref or BUILTIN_SHAPES_DETECTOR)["threshold"]))
    result = {"detector": ref or "builtin", "dev": {"folder": str(dev), "rows": measure(items["dev"], grid, ref)}}
    chosen = choose(result["dev"]["rows"])
    if test:  # the first row is no level: the detector as it was
        result["test"] = {"folder": str(test), "rows": measure(items["test"], (grid[0], chosen), ref)}
    for name in ("dev", "test"):
        if name in result:
            typer.echo(f"{name}: | level | candidates | parser passes | detector passes | false passes | passes lost |")
            for t, r in result[name]["rows"].items():
                typer.echo(f"| {t} | {r['candidates']} | {r['parser_passes']} | {r['passes']} | "
                           f"{r['false_passes']} | {r['lost']} |")
    result["chosen"] = chosen
    typer.echo(f"chosen on dev: confident {chosen}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")


@bench_app.command("intents")
def intents_bench(
    reader: str = typer.Option("rules", help="rules, or llm (the LLM at LIMNER_LLM_BASE_URL reads each turn)."),
    split: Optional[str] = typer.Option(None, help="Only these splits, comma-separated: dev, test, fresh."),
    out: Optional[Path] = typer.Option(None, "--results", help="Write every row's reading to this JSON file."),
    show: int = typer.Option(0, help="Print this many wrong readings."),
):
    """The edit-phrasing table (benchmarks/suites/edit_phrasings.yaml): the share of a person's turns whose typed
    intent a reader gets right, per split (dev: tuned on; test: held out; fresh: written after the rules reader
    was frozen). Nothing is generated."""
    from limner.agent.cli.common import _fail
    from limner.agent.edits import read
    from limner.bench.intents import run as run_table

    llm = None
    if reader == "llm":
        from limner.agent.config import Settings
        from limner.agent.llm import home_client

        settings = Settings()
        if not settings.llm_configured:
            _fail("the llm reader needs an LLM endpoint: set LIMNER_LLM_BASE_URL and LIMNER_LLM_MODEL")
        llm = home_client(settings)
    elif reader != "rules":
        _fail(f"unknown reader '{reader}': use rules or llm")

    def one(text, scene):  # a reading the LLM fails (after its repair turn) counts as wrong, with its reason
        return read(text, "round", scene, llm=llm)

    splits = tuple(x.strip() for x in split.split(",")) if split else ("dev", "test", "fresh")
    if any(x not in ("dev", "test", "fresh") for x in splits):
        _fail(f"unknown split in {split!r}: use dev, test or fresh")
    result = run_table(one, splits=splits)
    typer.echo(f"edit phrasings, reader {reader}")
    typer.echo("| split | phrasings | right | share |")
    typer.echo("|---|---|---|---|")
    for split, r in result["summary"].items():
        typer.echo(f"| {split} | {r['n']} | {r['right']} | {r['share']:.2%} |")
    typer.echo("by intent: " + ", ".join(f"{k} {v['right']}/{v['n']}" for k, v in result["by_kind"].items()))
    for r in [r for r in result["rows"] if r["wrong"]][:show]:
        typer.echo(f"- [{r['split']}] {r['text']!r}: {'; '.join(r['wrong'])}")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1) + "\n")
