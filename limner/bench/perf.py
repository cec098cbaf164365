"""Performance benchmarks: where a run's time goes, batched throughput, and start-up.

- ``overhead``: the agent on briefs, its wall time split into model compute (denoiser, text encoders, VAE,
  verifiers: ``limner.bench.timer.ComputeTimer``), LLM time (the call log) and the rest, the overhead. The overhead is
  split again into diffusers' own loop (time inside pipeline calls and the pipeline's ``encode_prompt`` outside
  the timed modules: tokenising, scheduler steps, CFG arithmetic, image post-processing) and Limner's (graph steps, checkpoint writes, PNG encoding,
  manifests). Per run and per graph step.
- ``throughput``: candidates per second of Limner's ``generate`` against a plain diffusers call with the same
  settings and noise, and against one pipeline call per candidate; the same for a verifier's batched scoring.
  Every ratio is of medians measured in the same process, interleaved.
- ``startup``: ``limner --help``, the first image of ``limner run``, and the peak resident memory.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from limner.bench.timer import ComputeTimer, summary

BRIEFS = ["two red circles and a blue square", "a green triangle above a blue circle", "three yellow squares",
          "a red square left of a green circle"]


def _llm_seconds(home: Path, run_id: str) -> float:
    import sqlite3

    db = home / "logs.sqlite"
    if not db.is_file():
        return 0.0
    with sqlite3.connect(db) as conn:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'llm_calls'").fetchone():
            return 0.0
        return float(conn.execute("SELECT COALESCE(SUM(seconds), 0) FROM llm_calls WHERE run_id = ?",
                                  (run_id,)).fetchone()[0])


def overhead(briefs: list[str] | None = None, repeats: int = 3, model: str | None = None, policy: str = "default",
             seed: int = 0) -> dict:
    """Run the agent ``repeats`` times on each brief (after one warm-up run that loads the models)."""
    import limner.tools.verifiers.ensemble as ensemble
    from limner.agent.runner import run
    from limner.tools._home import limner_home
    from limner.tools.generators.diffusers_backend import _PIPELINES

    briefs = briefs or BRIEFS
    out = Path(tempfile.mkdtemp(prefix="limner-overhead-"))
    start = time.perf_counter()
    run(briefs[0], out=out, model=model, policy=policy, seed=seed)  # loads the pipeline and verifiers
    load_seconds = time.perf_counter() - start
    import limner.tools.generators.diffusers_backend as backend

    timer = ComputeTimer()
    for pipe in _PIPELINES.values():
        timer.time_pipeline(pipe)
    timer.wrap(ensemble, "score_all", "verifiers")
    in_pipeline = [0.0]  # wall time inside diffusers pipeline calls: their compute plus diffusers' own loop
    inside = [False]
    counted_call = backend.counted_call

    def timed_call(pipe, kwargs):
        inside[0] = True
        try:
            images, nfe, seconds = counted_call(pipe, kwargs)
        finally:
            inside[0] = False
        in_pipeline[0] += seconds
        return images, nfe, seconds

    def timed_encode(original):  # the pipeline's prompt encoding, called before the call by the prompt cache
        def encode(*args, **kwargs):
            if inside[0]:
                return original(*args, **kwargs)
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                in_pipeline[0] += time.perf_counter() - start

        return encode

    from limner.tools.generators import prompt_cache

    cache_before = (prompt_cache.SHARED.hits, prompt_cache.SHARED.misses)
    backend.counted_call = timed_call
    for pipe in _PIPELINES.values():
        if hasattr(pipe, "encode_prompt"):  # an instruction-editing pipeline loaded earlier in the process has none
            pipe.encode_prompt = timed_encode(pipe.encode_prompt)
    runs = []
    try:
        for k in range(repeats):
            for i, brief in enumerate(briefs):
                steps = []
                before, pipeline_before = dict(timer.seconds), in_pipeline[0]
                t0 = time.perf_counter()
                r = run(brief, out=out, model=model, policy=policy, seed=seed + 1000 * k + i,
                        on_event=lambda e: steps.append(e["node"]) if e.get("event") == "node" else None)
                wall = time.perf_counter() - t0
                compute = {kind: timer.seconds.get(kind, 0.0) - before.get(kind, 0.0) for kind in timer.seconds}
                llm = _llm_seconds(limner_home(), r.run_id)
                rest = wall - sum(compute.values()) - llm
                model_inside = sum(v for k, v in compute.items() if k != "verifiers")
                loop = max(0.0, in_pipeline[0] - pipeline_before - model_inside)  # diffusers' scheduler loop etc.
                runs.append({"brief": brief, "wall": wall, "compute": compute, "llm": llm, "overhead": rest,
                             "diffusers_loop": loop, "limner_overhead": rest - loop,
                             "limner_share": (rest - loop) / wall,
                             "limner_per_step_ms": 1000 * (rest - loop) / max(1, len(steps)),
                             "steps": len(steps), "rounds": r.rounds, "nfe": r.nfe,
                             "overhead_share": rest / wall, "per_step_ms": 1000 * rest / max(1, len(steps))})
    finally:
        timer.restore()
        backend.counted_call = counted_call
        for pipe in _PIPELINES.values():
            vars(pipe).pop("encode_prompt", None)
    walls = sum(r["wall"] for r in runs)
    kinds = sorted({k for r in runs for k in r["compute"]})
    return {
        "benchmark": "overhead", "model": model or "default", "policy": policy, "load_seconds": load_seconds,
        "prompt_cache": {"hits": prompt_cache.SHARED.hits - cache_before[0],
                         "misses": prompt_cache.SHARED.misses - cache_before[1]},
        "runs": runs, "overhead_share": summary([r["overhead_share"] for r in runs]),
        "limner_share": summary([r["limner_share"] for r in runs]),
        "per_step_ms": summary([r["per_step_ms"] for r in runs]),
        "limner_per_step_ms": summary([r["limner_per_step_ms"] for r in runs]),
        "limner_ms_per_run": summary([1000 * r["limner_overhead"] for r in runs]),
        "diffusers_loop_ms_per_run": summary([1000 * r["diffusers_loop"] for r in runs]), "wall": summary([r["wall"] for r in runs]),
        "share_of_wall": {k: sum(r["compute"].get(k, 0.0) for r in runs) / walls for k in kinds}
        | {"llm": sum(r["llm"] for r in runs) / walls,
           "overhead: diffusers' loop": sum(r["diffusers_loop"] for r in runs) / walls,
           "overhead: limner": sum(r["limner_overhead"] for r in runs) / walls},
    }


def throughput(n: int = 4, repeats: int = 5, model: str | None = None, seed: int = 0) -> dict:
    """Candidates per second: Limner's generate vs a plain diffusers batched call vs one call per candidate."""
    import torch

    from limner.tools.generators import resolve_model
    from limner.tools.generators.diffusers_backend import DiffusersGenerator
    from limner.tools.generators.noise import gaussian_spec, stack
    from limner.tools.verifiers import make_verifier

    spec = resolve_model(model)
    gen = DiffusersGenerator(spec)
    pipe = gen.pipe
    prompt = BRIEFS[0]
    seeds = [seed + i for i in range(n)]
    shape = gen.latent_shape()
    latents = stack([gaussian_spec(s) for s in seeds], shape, None).to(gen.device, gen.dtype)
    settings = dict(num_inference_steps=spec.steps, guidance_scale=spec.guidance, height=spec.height,
                    width=spec.width, output_type="pil")

    def limner():
        return gen.generate(prompt, seeds).images

    def limner_uncached():  # as before prompt embeddings were kept: every call encodes the prompt
        gen.prompts.clear()
        return gen.generate(prompt, seeds).images

    def plain():
        with torch.inference_mode():
            return pipe(prompt=[prompt] * n, latents=latents, **settings).images

    def one_by_one():
        with torch.inference_mode():
            return [pipe(prompt=prompt, latents=latents[i:i + 1], **settings).images[0] for i in range(n)]

    ways = {"limner": limner, "limner_no_prompt_cache": limner_uncached, "plain_batched": plain,
            "one_call_per_candidate": one_by_one}
    for fn in ways.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {k: [] for k in ways}
    images = None
    for _ in range(repeats):
        for name, fn in ways.items():  # interleaved, so drift hits all three alike
            t0 = time.perf_counter()
            made = fn()
            times[name].append(time.perf_counter() - t0)
            images = images or made
    same = [list(a.getdata()) == list(b.getdata()) for a, b in zip(limner(), plain())]

    verifier = make_verifier("clipscore")
    prompts = [prompt] * n
    verifier.score(images, prompts)  # loads it
    vtimes: dict[str, list[float]] = {"batched": [], "batched_no_text_cache": [], "one_per_image": []}
    for _ in range(repeats):
        t0 = time.perf_counter()
        verifier.score(images, prompts)
        vtimes["batched"].append(time.perf_counter() - t0)
        verifier._text_cache.clear()
        t0 = time.perf_counter()
        verifier.score(images, prompts)
        vtimes["batched_no_text_cache"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for im in images:
            verifier.score([im], [prompt])
        vtimes["one_per_image"].append(time.perf_counter() - t0)
    med = {k: summary(v) for k, v in times.items()}
    vmed = {k: summary(v) for k, v in vtimes.items()}
    return {
        "benchmark": "throughput", "model": spec.alias, "device": str(gen.device), "dtype": str(gen.dtype),
        "candidates": n, "repeats": repeats, "seconds": med,
        "candidates_per_second": {k: n / s["median"] for k, s in med.items()},
        "limner_vs_plain": med["plain_batched"]["median"] / med["limner"]["median"],
        "limner_vs_one_call_per_candidate": med["one_call_per_candidate"]["median"] / med["limner"]["median"],
        "prompt_cache_speedup": med["limner_no_prompt_cache"]["median"] / med["limner"]["median"],
        "same_images_as_plain": all(same),
        "verifier": {"name": "clipscore", "seconds": vmed,
                     "batched_vs_one_per_image": vmed["one_per_image"]["median"] / vmed["batched"]["median"],
                     "text_cache_speedup": vmed["batched_no_text_cache"]["median"] / vmed["batched"]["median"]},
    }


def _child_peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux


def startup(repeats: int = 5) -> dict:
    """``limner --help`` wall time, time to the first candidate PNG of ``limner run``, peak memory of the run."""
    cmd = [sys.executable, "-m", "limner.agent.cli"]
    env = dict(os.environ)
    helps = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd + ["--help"], capture_output=True, check=True, env=env)
        helps.append(time.perf_counter() - t0)
    probe = subprocess.run([sys.executable, "-c", "import sys, limner.agent.cli; limner.agent.cli.app(['--help'], "
                            "standalone_mode=False); print('torch' in sys.modules)"], capture_output=True, text=True,
                           env=env)
    imports_torch = probe.stdout.strip().splitlines()[-1] == "True" if probe.stdout.strip() else None
    firsts, totals, peaks = [], [], []
    for k in range(max(1, repeats // 2)):
        out = Path(tempfile.mkdtemp(prefix="limner-startup-"))
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd + ["run", BRIEFS[0], "--seed", str(k), "--max-rounds", "1", "--out", str(out),
                                       "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        first = None
        while proc.poll() is None:
            if first is None and any(out.glob("*/candidates/*.png")):
                first = time.perf_counter() - t0
            time.sleep(0.01)
        totals.append(time.perf_counter() - t0)
        firsts.append(first if first is not None else totals[-1])
        peaks.append(_child_peak_rss_mb())
    return {"benchmark": "startup", "help_seconds": summary(helps), "help_imports_torch": imports_torch,
            "first_image_seconds": summary(firsts), "run_seconds": summary(totals), "peak_rss_mb": max(peaks)}
