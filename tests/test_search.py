"""Search strategies as plain tools: exact NFE accounting, budgets, reproducibility, gradients, best-so-far."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from limner.tools.generators import resolve_model
from limner.tools.search import STRATEGIES, SearchContext, SeedSource, search

pytestmark = pytest.mark.slow  # end to end: diffusion, subprocesses or servers


STEPS = 4  # tiny-random-sd at 4 steps with CFG: 8 NFE per plain sample


@pytest.fixture(scope="module")
def gen():
    from limner.tools.generators.diffusers_backend import DiffusersGenerator

    return DiffusersGenerator(resolve_model("tiny-random-sd").with_overrides(steps=STEPS))


def brightness(images):
    """A cheap, deterministic verifier: mean brightness."""
    return [float(np.asarray(im, dtype=np.float32).mean() / 255.0) for im in images]


def redness(pixels):
    """A cheap differentiable reward: how much red exceeds the other channels."""
    return pixels[:, 0].mean(dim=(1, 2)) - pixels[:, 1:].mean(dim=(1, 2, 3))


class CountingHook:
    """Counts denoiser forward passes independently of Limner's counter, split by grad mode."""

    def __init__(self, module):
        import torch

        self.plain = self.with_grad = 0

        def hook(_module, args, kwargs):
            batch = int((args[0] if args else kwargs["sample"]).shape[0])
            if torch.is_grad_enabled():
                self.with_grad += batch
            else:
                self.plain += batch

        self.handle = module.register_forward_pre_hook(hook, with_kwargs=True)

    def close(self):
        self.handle.remove()


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_nfe_accounting_is_exact(gen, name):
    ctx = SearchContext(generator=gen, prompt="a red circle", seeds=SeedSource(7), scorer=brightness, reward=redness)
    history = [{"id": "r01-c00", "noise": {"kind": "gaussian", "seed": 3}, "score": 0.5, "sampler": "pipeline"}]
    hook = CountingHook(gen.pipe.unet)
    try:
        result = STRATEGIES[name].round(ctx, 3, 200, history, {})
    finally:
        hook.close()
    assert result.found, name
    assert result.nfe == hook.plain + hook.with_grad
    assert result.nfe_charged == result.nfe + 2 * hook.with_grad
    assert result.nfe_charged <= 200
    if name == "reno":
        assert hook.with_grad > 0
    else:
        assert hook.with_grad == 0 and result.nfe_charged == result.nfe


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(sorted(STRATEGIES)), budget=st.integers(min_value=8, max_value=160),
       n=st.integers(min_value=1, max_value=4))
def test_no_strategy_exceeds_its_budget(gen, name, budget, n):
    out = search(name, gen, "a blue square", scorer=brightness, reward=redness, nfe_budget=budget, n=n, seed=budget)
    assert out.nfe_charged <= budget
    assert sum(r["nfe_charged"] for r in out.rounds) == out.nfe_charged
    # whatever is left could not pay for another plain sample (nothing is wasted by stopping early)
    assert budget - out.nfe_charged < 8 or out.stop_reason.startswith(("round limit",))


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_search_returns_the_best_candidate_never_worse_than_its_start(gen, name):
    out = search(name, gen, "a green triangle", scorer=brightness, reward=redness, nfe_budget=120, n=3, seed=1)
    scores = [c["score"] for c in out.candidates]
    assert out.best["score"] == max(scores)
    first_round = [c["score"] for c in out.candidates if c["round"] == 1]
    assert out.best["score"] >= max(first_round)
    assert brightness([out.best_image])[0] == pytest.approx(out.best["score"])
    running = [r["best_score"] for r in out.rounds]
    assert running == sorted(running)  # the best so far never gets worse


def test_zero_order_moves_its_pivot_only_on_improvement_and_restarts_when_stuck(gen):
    zo = STRATEGIES["zero_order"]
    ctx = SearchContext(generator=gen, prompt="a red circle", seeds=SeedSource(1))
    history = [{"id": "a", "noise": {"kind": "gaussian", "seed": 1}, "score": 0.6, "sampler": "pipeline"},
               {"id": "b", "noise": {"kind": "gaussian", "seed": 2}, "score": 0.4, "sampler": "pipeline"}]
    first = zo.round(ctx, 2, 100, history, {})
    assert first.params["pivot"] == "a" and all(f.noise["kind"] == "neighbour" for f in first.found)
    assert all(f.noise["root"] == {"kind": "gaussian", "seed": 1} for f in first.found)
    # a neighbour that beats the pivot becomes the pivot, and its neighbours extend its chain
    better = {"id": "c", "noise": first.found[0].noise, "score": 0.7, "sampler": "pipeline"}
    moved = zo.round(ctx, 2, 100, history + [better], {**first.memo, "last_ids": ["c"]})
    assert moved.params["pivot"] == "c"
    assert all(len(f.noise["steps"]) == 2 for f in moved.found)
    # a round that brings nothing: restart from fresh noise, whose best is the next pivot
    worse = {"id": "d", "noise": moved.found[0].noise, "score": 0.1, "sampler": "pipeline"}
    restart = zo.round(ctx, 2, 100, history + [better, worse], {**moved.memo, "last_ids": ["d"]})
    assert restart.params["restart"] and all(f.noise["kind"] == "gaussian" for f in restart.found)
    fresh = [{"id": f"e{i}", "noise": f.noise, "score": 0.2 + i / 10, "sampler": "pipeline"}
             for i, f in enumerate(restart.found)]
    after = zo.round(ctx, 2, 100, history + [better, worse] + fresh, {**restart.memo, "last_ids": ["e0", "e1"]})
    assert after.params["pivot"] == "e1"


def test_zero_order_with_a_population_searches_the_runners_up_neighbourhoods_too(gen):
    zo = STRATEGIES["zero_order"]
    history = [{"id": k, "noise": {"kind": "gaussian", "seed": i}, "score": score, "sampler": "pipeline"}
               for i, (k, score) in enumerate([("a", 0.5), ("b", 0.9), ("c", None), ("d", 0.7), ("e", 0.6)])]
    history.append({"id": "f", "noise": {"kind": "pipeline", "seed": 9}, "score": 0.8, "sampler": "pipeline"})
    ctx = SearchContext(generator=gen, prompt="a red circle", seeds=SeedSource(1), population=3)
    out = zo.round(ctx, 4, 1000, history, {})
    # the best, then the next best with explicit noise and a score (f has none to move from, c no score)
    assert out.params["pivot"] == "b" and out.params["parents"] == ["b", "d", "e"]
    roots = [f.noise["root"]["seed"] for f in out.found]
    assert roots == [1, 3, 4, 1] and [f.details["pivot"] for f in out.found] == ["b", "d", "e", "b"]
    single = zo.round(SearchContext(generator=gen, prompt="a red circle", seeds=SeedSource(1)), 2, 1000, history, {})
    assert single.params["parents"] == ["b"]  # population 1 (the plain search loop's): the pivot alone


def test_neighbours_stay_on_the_gaussian_shell_and_rebuild_exactly():
    from limner.tools.generators.noise import materialise, neighbour_spec

    spec = neighbour_spec(neighbour_spec({"kind": "gaussian", "seed": 4}, 5, 0.6), 6, 0.6)
    a, b = materialise(spec, (4, 8, 8)), materialise(spec, (4, 8, 8))
    assert (a == b).all()
    assert float(a.norm()) == pytest.approx((4 * 8 * 8) ** 0.5, rel=1e-5)


def test_reno_gradients_reach_the_noise(gen, limner_home):
    import torch

    from limner.tools.generators.loop import DenoiseLoop
    from limner.tools.generators.noise import gaussian
    from limner.tools.verifiers import make_verifier

    clip = make_verifier("clipscore", model="builtin:tiny-random-clip")
    loop = DenoiseLoop(gen, "a red circle")
    try:
        z = gaussian(0, gen.latent_shape())[None].requires_grad_(True)
        pixels = loop.decode(loop.run(loop.initial(z), 0, loop.steps))
        clip.raw_scores(pixels, ["a red circle"]).sum().backward()
    finally:
        loop.close()
    grad = z.grad
    assert grad is not None and torch.isfinite(grad).all() and float(grad.abs().sum()) > 0
    assert all(p.grad is None for p in gen.pipe.unet.parameters())  # the model stays frozen


def test_reno_keeps_its_best_iterate(gen):
    ctx = SearchContext(generator=gen, prompt="a red circle", seeds=SeedSource(2), reward=redness,
                        options={"max_iterations": 4})
    result = STRATEGIES["reno"].round(ctx, 1, 1000, [], {})
    trace = result.params["trace"]
    assert len(trace) == 4 and result.params["best_iterate"] == max(range(4), key=lambda k: (trace[k]["score"], -k))
    assert all(np.isfinite(t["grad_norm"]) for t in trace[:-1])


@pytest.mark.parametrize("model", ["tiny-random-sd", "sdxl"])
def test_limners_loop_gives_the_pipelines_pixels(model, tmp_path_factory):
    from limner.tools.generators.diffusers_backend import DiffusersGenerator
    from limner.tools.generators.loop import DenoiseLoop
    from limner.tools.generators.noise import gaussian_spec, stack

    if model == "sdxl":
        from tiny_pipelines import save_tiny_sdxl

        folder = save_tiny_sdxl(tmp_path_factory.mktemp("sdxl") / "tiny-sdxl")
        spec = resolve_model(str(folder)).with_overrides(width=64, height=64, steps=3)
    else:
        spec = resolve_model(model).with_overrides(steps=STEPS)
    g = DiffusersGenerator(spec)
    noises = [gaussian_spec(s) for s in (1, 2)]
    by_pipeline = g.generate("a red circle", noises=noises).images
    loop = DenoiseLoop(g, "a red circle")
    try:
        by_loop = loop.sample(stack(noises, g.latent_shape()))
    finally:
        loop.close()
    for a, b in zip(by_pipeline, by_loop):
        assert np.array_equal(np.asarray(a), np.asarray(b))


def test_paths_records_its_tree_and_lineage(gen):
    ctx = SearchContext(generator=gen, prompt="a red circle", seeds=SeedSource(3), scorer=brightness,
                        options={"checkpoints": [0.5], "backtrack": 1, "branches": 2})
    result = STRATEGIES["paths"].round(ctx, 4, 1000, [], {})
    (node,) = result.params["tree"]
    assert node["checkpoint"] == 2 and node["back_to"] == 1 and len(node["scores"]) == 4
    kept = sorted(range(4), key=lambda i: (-node["scores"][i], i))[:2]
    assert node["kept"] == kept and node["children_of"] == [kept[0], kept[0], kept[1], kept[1]]
    assert result.verifier_calls == 4 and len(result.found) == 4
    assert all(len(f.noise["branches"]) == 1 for f in result.found)


def test_the_loop_decodes_a_half_precision_vae_that_asks_for_it_in_float32():
    """As the pipelines do for SDXL's VAE: fp16 decodes overflow to black, so ``force_upcast`` decodes in fp32."""
    import torch
    from types import SimpleNamespace

    from limner.tools.generators.loop import DenoiseLoop
    from limner.tools.generators.tiny import build_tiny_sd

    vae = build_tiny_sd().vae.to(torch.float16)
    vae.register_to_config(force_upcast=True)
    seen = []
    original = vae.decode

    def decode(z, *args, **kwargs):
        seen.append((z.dtype, next(vae.parameters()).dtype))
        return original(z, *args, **kwargs)

    vae.decode = decode
    loop = SimpleNamespace(pipe=SimpleNamespace(vae=vae), _decode=DenoiseLoop._decode)
    pixels = DenoiseLoop.decode(loop, torch.randn(1, 4, 32, 32, dtype=torch.float16))
    assert seen == [(torch.float32, torch.float32)] and pixels.dtype == torch.float32
    assert next(vae.parameters()).dtype == torch.float16  # put back as it was
    vae.register_to_config(force_upcast=False)
    DenoiseLoop.decode(loop, torch.randn(1, 4, 32, 32, dtype=torch.float16))
    assert seen[-1] == (torch.float16, torch.float16)
