"""Prompt embeddings are encoded once per prompt and batch size, and give the same images as the text."""

import inspect

import numpy as np
import pytest

from tiny_pipelines import save_tiny_sdxl
from limner.tools.generators import resolve_model
from limner.tools.generators.diffusers_backend import DiffusersGenerator
from limner.tools.generators.noise import gaussian_spec, stack
from limner.tools.generators.prompt_cache import _ENCODERS, PromptCache


def _same(a, b) -> bool:
    return len(a) == len(b) and all((np.asarray(x) == np.asarray(y)).all() for x, y in zip(a, b))


def _plain_call(gen, prompt, seeds, negative=""):
    """The pipeline called with text, as a plain diffusers script would."""
    spec = gen.spec
    latents = stack([gaussian_spec(s) for s in seeds], gen.latent_shape(), None)
    kwargs = {"negative_prompt": [negative] * len(seeds)} if negative else {}
    return gen.pipe(prompt=[prompt] * len(seeds), latents=latents, num_inference_steps=spec.steps,
                    guidance_scale=spec.guidance, height=spec.height, width=spec.width, **kwargs).images


@pytest.mark.parametrize("negative", ["", "blurry"])
def test_cached_embeddings_give_the_images_of_a_text_call(negative):
    gen = DiffusersGenerator(resolve_model("tiny-random-sd").with_overrides(steps=3), device="cpu")
    gen.prompts = PromptCache()  # not the process's shared one, which other tests fill
    calls = []
    encode = gen.pipe.text_encoder.forward
    gen.pipe.text_encoder.forward = lambda *a, **k: calls.append(1) or encode(*a, **k)
    try:
        first = gen.generate("a red circle", [1, 2], negative_prompt=negative)
        encoded = len(calls)
        second = gen.generate("a red circle", [1, 2], negative_prompt=negative)
        assert len(calls) == encoded > 0  # the second round encodes nothing
        assert gen.prompts.hits == 1 and gen.prompts.misses == 1
        gen.generate("a blue square", [1, 2], negative_prompt=negative)
        assert len(calls) > encoded and gen.prompts.misses == 2  # a new prompt is encoded
    finally:
        gen.pipe.text_encoder.forward = encode
    assert _same(first.images, second.images)
    assert _same(first.images, _plain_call(gen, "a red circle", [1, 2], negative))


def test_sdxl_cached_embeddings_give_the_images_of_a_text_call(tmp_path):
    spec = resolve_model(str(save_tiny_sdxl(tmp_path / "sdxl"))).with_overrides(steps=2, guidance=4.0, width=64,
                                                                                 height=64)
    gen = DiffusersGenerator(spec, device="cpu")
    gen.prompts = PromptCache()
    a = gen.generate("a red circle", [3, 4], negative_prompt="blurry")
    b = gen.generate("a red circle", [3, 4], negative_prompt="blurry")
    assert gen.prompts.hits == 1 and _same(a.images, b.images)
    assert _same(a.images, _plain_call(gen, "a red circle", [3, 4], "blurry"))


def test_generators_of_one_process_share_the_cache():
    from limner.tools.generators import prompt_cache

    spec = resolve_model("tiny-random-sd").with_overrides(steps=2)
    first, second = DiffusersGenerator(spec, device="cpu"), DiffusersGenerator(spec, device="cpu")
    assert first.prompts is second.prompts is prompt_cache.SHARED
    first.generate("a shared prompt", [1])
    hits = prompt_cache.SHARED.hits
    second.generate("a shared prompt", [1])  # a later run in the same process: nothing encoded again
    assert prompt_cache.SHARED.hits == hits + 1


def test_batch_size_and_guidance_are_part_of_the_key():
    cache = PromptCache(size=2)

    class Pipe:
        def encode_prompt(self, prompts, device, n, cfg, negatives):
            return f"{len(prompts)}{cfg}", ("neg" if cfg else None)

    pipe = Pipe()
    assert cache.kwargs(pipe, "sd", "p", "", 2, True, "cpu") == {"prompt_embeds": "2True", "negative_prompt_embeds": "neg"}
    assert cache.kwargs(pipe, "sd", "p", "", 3, False, "cpu") == {"prompt_embeds": "3False"}
    cache.kwargs(pipe, "sd", "q", "", 3, False, "cpu")  # evicts the oldest entry (size 2)
    cache.kwargs(pipe, "sd", "p", "", 2, True, "cpu")
    assert cache.misses == 4 and cache.hits == 0
    assert cache.kwargs(pipe, "pixart", "p", "n", 2, True, "cpu", max_tokens=300) == {
        "prompt": ["p", "p"], "negative_prompt": ["n", "n"], "max_sequence_length": 300}


@pytest.mark.parametrize("family,pipeline", [("sd3", "StableDiffusion3Pipeline"), ("flux", "FluxPipeline"),
                                             ("sdxl", "StableDiffusionXLPipeline")])
def test_encoders_call_the_real_pipelines_with_arguments_they_take(family, pipeline):
    """No tiny SD3 or FLUX weights here: check the calls against the real classes' signatures instead."""
    import diffusers

    cls = getattr(diffusers, pipeline)
    seen = {}

    class Pipe:
        def encode_prompt(self, *args, **kwargs):
            inspect.signature(cls.encode_prompt).bind(self, *args, **kwargs)  # raises on a wrong argument
            seen.update(kwargs)
            return ("pe", "pooled", "ids") if family == "flux" else ("pe", "ne", "pooled", "npooled")

    made = _ENCODERS[family](Pipe(), ["a cat"] * 2, ["blurry"] * 2, family != "flux", "cpu", 256)
    call = inspect.signature(cls.__call__).parameters
    assert set(made) <= set(call)  # every cached tensor is an argument of the pipeline call
    assert seen["num_images_per_prompt"] == 1 and seen["prompt"] == ["a cat"] * 2
    if family != "sdxl":  # the T5 encoder reads at most the model's tokens (FLUX.1 [schnell]: 256)
        assert seen["max_sequence_length"] == 256
