"""A batch that runs out of memory is split and retried; the size that fits is remembered."""

import numpy as np
import pytest
import torch

from limner.agent import run
from limner.agent.reproduce import regenerate
from helpers import manifest, policy_file
from limner.tools.generators import resolve_model
from limner.tools.generators.diffusers_backend import DiffusersGenerator
from limner.tools.generators.memory import OutOfMemory, fitting_batch, forget, split_on_oom


@pytest.fixture(autouse=True)
def _fresh_sizes():
    forget()
    yield
    forget()


def _oom(nfe=0):
    exc = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    exc.limner_nfe = nfe
    return exc


def test_split_halves_until_it_fits_and_remembers():
    calls = []

    def call(lo, hi):
        calls.append((lo, hi))
        if hi - lo > 2:
            raise _oom(nfe=3)
        return [f"img{k}" for k in range(lo, hi)], 10 * (hi - lo), 0.5

    images, nfe, _, lost, chunks = split_on_oom(call, 5, ("m",))
    assert images == [f"img{k}" for k in range(5)]
    assert calls == [(0, 5), (0, 3), (0, 2), (2, 4), (4, 5)] and chunks == [(0, 2), (2, 4), (4, 5)]
    assert lost == 6 and nfe == 50 + 6 and fitting_batch(("m",)) == 2
    calls.clear()
    split_on_oom(call, 4, ("m",))
    assert calls == [(0, 2), (2, 4)]  # starts at the size that fits: no failed call this time
    assert fitting_batch(("other",)) is None


def test_one_candidate_that_does_not_fit_is_a_clear_error_and_other_errors_pass_through():
    def oom(lo, hi):
        raise _oom()

    with pytest.raises(OutOfMemory, match="one candidate does not fit"):
        split_on_oom(oom, 3, ("m",))

    def broken(lo, hi):
        raise ValueError("not memory")

    with pytest.raises(ValueError, match="not memory"):
        split_on_oom(broken, 3, ("x",))
    assert fitting_batch(("x",)) is None


@pytest.fixture
def small_memory(monkeypatch):
    """The tiny model's UNet runs out of memory on more than two candidates (four rows under CFG)."""
    spec = resolve_model("tiny-random-sd").with_overrides(steps=3)
    unet = DiffusersGenerator(spec, device="cpu").pipe.unet
    forward = unet.forward

    def limited(sample, *args, **kwargs):
        if sample.shape[0] > 4:
            raise _oom()
        return forward(sample, *args, **kwargs)

    monkeypatch.setattr(unet, "forward", limited)
    return spec


def test_generator_splits_a_batch_that_does_not_fit(small_memory):
    gen = DiffusersGenerator(small_memory, device="cpu")
    result = gen.generate("a red circle", [1, 2, 3, 4])
    assert len(result.images) == 4 and result.chunks == [(0, 2), (2, 4)] and result.batch == 2
    assert result.oom_lost_nfe == 8  # the failed call's first forward pass: 4 candidates, doubled by CFG
    assert result.nfe == 4 * 3 * 2 + 8
    pairs = gen.generate("a red circle", [1, 2]).images + gen.generate("a red circle", [3, 4]).images
    assert all((np.asarray(a) == np.asarray(b)).all() for a, b in zip(result.images, pairs))


def test_agent_round_survives_out_of_memory_and_its_candidates_reproduce(small_memory, tmp_path):
    policy = policy_file(tmp_path, max_rounds=1, candidates_per_round=4, generation={"steps": 3})
    result = run("a red circle", seed=2, out=tmp_path, policy=policy)
    m = manifest(result)
    assert result.status in {"passed", "best_effort"}
    assert m["rounds"][0]["out_of_memory"] == {"lost_nfe": 8, "batch": 2}
    assert result.nfe == 4 * 3 * 2 + 8  # the failed pass is charged too
    cands = m["candidates"]
    assert [len(c["batch_noise"]) for c in cands] == [2, 2, 2, 2]
    assert cands[2]["batch_noise"][0]["seed"] == cands[2]["noise"]["seed"]
    again = regenerate(cands[3], result.run_dir)
    with open(f"{result.run_dir}/{cands[3]['path']}", "rb") as f:
        from PIL import Image

        saved = np.asarray(Image.open(f).convert("RGB"))
    assert (np.asarray(again) == saved).all()


def test_a_search_round_records_the_chunk_each_candidate_was_made_in(small_memory):
    from limner.tools.generators.noise import gaussian_spec
    from limner.tools.search.base import SearchContext, SeedSource
    from limner.tools.search.random import sample

    gen = DiffusersGenerator(small_memory, device="cpu")
    ctx = SearchContext(generator=gen, prompt="a red circle", seeds=SeedSource(1, 0))
    noises = [gaussian_spec(s) for s in (5, 6, 7)]
    found, nfe, oom = sample(ctx, noises)
    assert [f.batch for f in found] == [noises[:2], noises[:2], noises[2:]]
    assert nfe == 3 * 3 * 2 + 6  # the failed call's first pass: 3 candidates, doubled by CFG
    assert oom == {"lost_nfe": 6, "batch": 2}
