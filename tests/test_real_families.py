"""Real model families run through the same code paths, with tiny random components of the same architecture."""

import pytest

from limner.agent import run
from helpers import manifest, policy_file
from tiny_pipelines import save_tiny_sdxl
from limner.tools.generators import resolve_model
from limner.tools.generators.diffusers_backend import DiffusersGenerator


@pytest.fixture(scope="module")
def sdxl_folder(tmp_path_factory):
    return save_tiny_sdxl(tmp_path_factory.mktemp("models") / "tiny-sdxl")


def test_sdxl_folder_is_detected_and_generates_from_explicit_noise(sdxl_folder):
    spec = resolve_model(str(sdxl_folder)).with_overrides(steps=3, guidance=4.0, width=64, height=64)
    assert spec.family == "sdxl"
    gen = DiffusersGenerator(spec, device="cpu")
    assert type(gen.pipe).__name__ == "StableDiffusionXLPipeline"
    a = gen.generate("a red circle", [1, 2])
    b = gen.generate("a red circle", [2])
    assert a.nfe == 2 * 3 * 2 and b.nfe == 3 * 2
    assert a.images[0].size == (64, 64)
    assert a.noise[1]["kind"] == "gaussian" and a.noise[1]["shape"] == [4, 32, 32]


def test_agent_runs_on_an_sdxl_folder(sdxl_folder, tmp_path):
    policy = policy_file(tmp_path, max_rounds=1, generation={"steps": 2, "width": 64, "height": 64, "guidance": 3.0})
    result = run("a red circle", model=str(sdxl_folder), seed=1, out=tmp_path, policy=policy)
    m = manifest(result)
    assert m["model"]["family"] == "sdxl" and result.nfe == 2 * 2 * 2
    assert m["candidates"][0]["settings"]["guidance"] == 3.0
