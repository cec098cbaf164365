import numpy as np
import pytest

from limner.tools.generators import resolve_model
from limner.tools.generators.diffusers_backend import DiffusersGenerator
from limner.tools.images import png_bytes


@pytest.fixture(scope="module")
def gen():
    return DiffusersGenerator(resolve_model("tiny-random-sd"), device="cpu")


def test_same_seed_gives_the_same_image_bytes(gen):
    a = gen.generate("a red circle", [5, 6])
    b = gen.generate("a red circle", [5, 6])
    assert [png_bytes(i) for i in a.images] == [png_bytes(i) for i in b.images]
    assert png_bytes(a.images[0]) != png_bytes(a.images[1])


def test_a_seed_gives_the_same_image_alone_or_in_a_batch(gen):
    batch = gen.generate("a blue square", [11, 12, 13])
    alone = gen.generate("a blue square", [12])
    x = np.asarray(batch.images[1]).astype(int)
    y = np.asarray(alone.images[0]).astype(int)
    # batched CPU kernels may round differently: at most one intensity level, on a tiny share of pixels
    assert np.abs(x - y).max() <= 1
    assert (x != y).mean() < 0.01


def test_nfe_is_counted_from_denoiser_calls(gen):
    result = gen.generate("a circle", [1, 2, 3])
    assert result.nfe == 3 * gen.spec.steps * 2  # classifier-free guidance doubles it
    assert result.nfe == 3 * gen.spec.nfe_per_candidate()
    no_cfg = DiffusersGenerator(resolve_model("tiny-random-sd").with_overrides(guidance=0.0, steps=3), device="cpu")
    assert no_cfg.generate("a circle", [1, 2]).nfe == 2 * 3


def test_steps_are_reported(gen):
    seen = []
    gen.generate("a circle", [1], on_step=lambda step, steps: seen.append((step, steps)))
    assert seen == [(i, gen.spec.steps) for i in range(1, gen.spec.steps + 1)]


def test_model_resolution_errors_are_one_line(tmp_path):
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        resolve_model("nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no model_index.json"):
        resolve_model(str(tmp_path / "empty"))
    with pytest.raises(ValueError, match=r"not in the local Hugging Face cache .*limner pull someorg/somemodel"):
        resolve_model("someorg/somemodel")  # its family is read from its model_index.json, which is not here
    assert resolve_model("sdxl").family == "sdxl"


def test_offline_hub_model_not_in_cache_is_reported(monkeypatch):
    from limner.tools.generators.diffusers_backend import ModelUnavailable, check_available

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelUnavailable, match="not in the local Hugging Face cache"):
        check_available(resolve_model("sdxl"))


def test_a_long_lived_process_keeps_at_most_max_models_pipelines_and_offload_on_a_cpu_is_not_applied(caplog):
    """``configure_cache`` (``limner serve --max-models/--offload``): the least recently used pipeline is evicted
    before another loads; on a CPU device offload has nothing to move and says so."""
    import logging

    from limner.tools.generators import diffusers_backend as backend

    backend._PIPELINES.clear()
    try:
        backend.configure_cache(max_models=1, offload="model")
        with caplog.at_level(logging.INFO, logger="limner.generators"):
            first = backend.load_pipeline(resolve_model("tiny-random-sd"), "cpu", None)
            assert backend.describe_cache()["loaded"] == ["builtin:tiny-random-sd"]
            backend.load_pipeline(resolve_model("shapes-tiny"), "cpu", None)
        assert len(backend._PIPELINES) == 1 and backend.describe_cache()["loaded"][0] != "builtin:tiny-random-sd"
        assert "offload=model not applied: the device is cpu" in caplog.text and "evicted" in caplog.text
        assert first.device.type == "cpu"  # placed as usual
        again = DiffusersGenerator(resolve_model("tiny-random-sd"), device="cpu").generate("a red circle", [1])
        assert again.images and len(backend._PIPELINES) == 1  # loaded again, the other one evicted
    finally:
        backend.configure_cache(max_models=None, offload=None)
        backend._PIPELINES.clear()
