"""The diffusers backend: loads a pipeline once per process and generates batches from explicit noise.

Usable alone::

    from limner.tools.generators import resolve_model
    from limner.tools.generators.diffusers_backend import DiffusersGenerator

    gen = DiffusersGenerator(resolve_model("tiny-random-sd"))
    result = gen.generate("a red circle", seeds=[1, 2, 3])
    result.images[0].save("a.png"); print(result.nfe)
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from limner.tools._home import models_dir
from limner.tools._quiet import quiet_libraries
from limner.tools.generators.memory import fitting_batch, split_on_oom
from limner.tools.generators.families import family as family_info
from limner.tools.generators.models import ModelSpec
from limner.tools.generators.model_files import ModelUnavailable, WeightsMissing, cached_snapshot, offline
from limner.tools.generators.noise import gaussian_spec, stack
from limner.tools.generators import prompt_cache

_PIPELINES: "OrderedDict[tuple, object]" = OrderedDict()  # loaded pipelines, least recently used first
_CACHE = {"max_models": None, "offload": None}  # ``configure_cache``: no limit, no offload (a CLI run loads one)
log = logging.getLogger("limner.generators")


def configure_cache(max_models: int | None = None, offload: str | None = None, keep_limit: bool = False) -> None:
    """How a long-lived process keeps pipelines: at most ``max_models`` loaded (the least recently used is evicted
    and its memory freed), and ``offload`` (``model``: diffusers' model CPU offload, ``sequential``: sequential
    offload) for pipelines loaded from now on. Offload moves weights between a GPU and the CPU, so on a CPU device
    there is nothing to offload: it is recorded as not applied, with that reason (``describe_cache``).
    ``keep_limit``: change the offload only."""
    if offload not in (None, "model", "sequential"):
        raise ValueError(f"offload must be model or sequential, not {offload!r}")
    _CACHE.update(offload=offload, **({} if keep_limit else {"max_models": max_models}))
    _evict()


def describe_cache() -> dict:
    return {"loaded": [k[0] for k in _PIPELINES], **_CACHE}


def _evict(keep: int | None = None) -> list[tuple]:
    """Drop the least recently used pipelines until at most ``keep`` (default: the cache's limit) stay loaded."""
    limit = _CACHE["max_models"] if keep is None else keep
    dropped = []
    while limit is not None and len(_PIPELINES) > limit:
        key, _ = _PIPELINES.popitem(last=False)
        dropped.append(key)
    if dropped:
        free_memory()
        log.info("evicted %s", ", ".join(k[0] for k in dropped))
    return dropped


def free_memory() -> None:
    """Return what dropped pipelines held: Python's garbage, then the accelerator's cached blocks."""
    import gc

    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _place(pipe, device: str) -> None:
    """Put a loaded pipeline on ``device``, or offload it there as configured."""
    offload = _CACHE["offload"]
    if offload and device.startswith("cuda"):
        gpu = torch_device_index(device)
        if offload == "model":
            pipe.enable_model_cpu_offload(gpu_id=gpu)
        else:
            pipe.enable_sequential_cpu_offload(gpu_id=gpu)
        return
    if offload:
        log.info("offload=%s not applied: the device is %s, so the weights already live in its memory", offload,
                 device)
    pipe.to(device)


def torch_device_index(device: str) -> int:
    return int(device.split(":", 1)[1]) if ":" in device else 0



@dataclass
class GenerationResult:
    images: list  # PIL images, one per seed, in the order of the seeds
    nfe: int  # denoiser forward passes actually run, per sample, summed over the batch
    seconds: float
    noise: list[dict] = field(default_factory=list)  # how each candidate's initial noise was made
    oom_lost_nfe: int = 0  # forward passes of calls that ran out of memory (counted in ``nfe`` too)
    batch: int | None = None  # the largest batch known to fit, when an out-of-memory error taught one
    chunks: list = field(default_factory=list)  # (lo, hi) of each pipeline call: one unless a batch was split

    def batch_of(self, k: int, noises: list) -> list:
        """The noises of the pipeline call that made image ``k``: what reproduces it bit-identically."""
        return next((noises[lo:hi] for lo, hi in self.chunks if lo <= k < hi), noises)


DTYPES = ("float32", "float16", "bfloat16")


def check_device_dtype(device: str | None, dtype: str | None) -> str | None:
    """Why ``device``/``dtype`` cannot run here (one line), or None. Checked before a run writes anything."""
    if dtype and dtype != "auto" and dtype not in DTYPES:
        return f"unknown dtype '{dtype}': use {', '.join(DTYPES)} or auto"
    if not device or device in ("auto", "cpu"):
        return None
    kind, _, index = device.partition(":")
    if kind not in ("cuda", "mps") or (index and not index.isdigit()) or (kind == "mps" and index):
        return f"unknown device '{device}': use cpu, cuda, cuda:N, mps or auto"
    import torch

    if kind == "cuda" and not torch.cuda.is_available():
        return f"device '{device}' is not available here (this torch, {torch.__version__}, sees no CUDA GPU)"
    if kind == "cuda" and index and int(index) >= torch.cuda.device_count():
        return f"device '{device}' is not available here ({torch.cuda.device_count()} CUDA GPUs)"
    if kind == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        return "device 'mps' is not available here"
    return None


def pick_device(requested: str | None = None) -> str:
    if requested and requested != "auto":
        return requested
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(device: str, family: str, requested: str | None = None):
    import torch

    if requested and requested != "auto":
        try:
            return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[requested]
        except KeyError:
            raise ValueError(check_device_dtype(None, requested)) from None
    if device == "cpu":
        return torch.float32
    if device == "cuda" and family_info(family).denoiser == "transformer":  # SD3, FLUX, PixArt: trained in bf16
        return torch.bfloat16
    return torch.float16


def local_source(spec: ModelSpec) -> str:
    """The path or hub id to load; builds Limner's own built-in models on first use."""
    if spec.source.startswith("builtin:"):
        name = spec.source.split(":", 1)[1]
        if name == "tiny-random-sd":
            from limner.tools.generators.tiny import ensure_tiny_sd

            return str(ensure_tiny_sd(models_dir() / name))
        from limner.tools.shapes.weights import shipped_model

        return str(shipped_model(name))
    return spec.source


def check_available(spec: ModelSpec) -> None:
    """Raise ``ModelUnavailable`` (one line) when the weights cannot be had without downloading offline."""
    if spec.source == "builtin:tiny-random-sd" or Path(spec.source).is_dir():
        return
    if spec.source.startswith("builtin:"):
        local_source(spec)  # raises when shipped weights are missing
        return
    if cached_snapshot(spec.source, spec.revision) is not None:
        return
    if offline():
        raise ModelUnavailable(
            f"weights for '{spec.source}' are not in the local Hugging Face cache and HF_HUB_OFFLINE=1: "
            f"run `limner pull {spec.alias}` once online, or pass a local folder"
        )
    from limner.tools.generators.model_files import read_index

    try:
        read_index(spec.source, spec.revision)  # one quick request: is the hub there at all?
    except WeightsMissing as exc:
        raise ModelUnavailable(str(exc)) from None


def load_pipeline(spec: ModelSpec, device: str, dtype):
    """Load (or fetch from this process's cache) the text-to-image pipeline for ``spec``."""
    key = (spec.source, spec.revision, spec.scheduler, device, str(dtype))
    if key in _PIPELINES:
        _PIPELINES.move_to_end(key)
        return _PIPELINES[key]
    if _CACHE["max_models"] is not None:
        _evict(_CACHE["max_models"] - 1)  # room for this one before it loads, not after
    quiet_libraries()
    import diffusers

    source = local_source(spec)
    try:
        # the pipeline class its model_index.json names (DiffusionPipeline reads it), at the recorded revision
        extra = {"revision": spec.revision} if spec.revision and not Path(source).is_dir() else {}
        pipe = diffusers.DiffusionPipeline.from_pretrained(source, dtype=dtype, **extra)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelUnavailable(f"cannot load '{spec.source}': {first}") from None
    if spec.scheduler:
        scheduler_cls = getattr(diffusers, spec.scheduler)
        pipe.scheduler = scheduler_cls.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    _place(pipe, device)
    _PIPELINES[key] = pipe
    return pipe


def denoiser_of(pipe):
    return getattr(pipe, "unet", None) or pipe.transformer


class NFECounter:
    """Counts denoiser forward passes per sample (a CFG pass on a doubled batch counts twice)."""

    def __init__(self, module):
        self.count = 0
        self._handle = module.register_forward_pre_hook(self._hook, with_kwargs=True)

    def _hook(self, module, args, kwargs):
        x = args[0] if args else kwargs.get("sample", kwargs.get("hidden_states"))
        self.count += int(x.shape[0])

    def close(self) -> None:
        self._handle.remove()


def counted_call(pipe, kwargs: dict) -> tuple[list, int, float]:
    """One pipeline call without gradients: its images, the denoiser forward passes it ran, and its seconds."""
    import torch

    counter = NFECounter(denoiser_of(pipe))
    start = time.perf_counter()
    try:
        with torch.inference_mode():
            images = pipe(**kwargs).images
    except Exception as exc:
        exc.limner_nfe = counter.count  # the forward passes that ran before the error still count
        raise
    finally:
        counter.close()
    return images, counter.count, time.perf_counter() - start


def seeded(seeds: list[int]) -> list:
    """One CPU generator per seed, as every pipeline call in Limner draws its noise."""
    import torch

    return [torch.Generator("cpu").manual_seed(s) for s in seeds]


def weights_revision(pipe) -> str | None:
    """The hub snapshot (commit hash) the weights were loaded from, when they came from the HF cache."""
    path = Path(str(getattr(pipe.config, "_name_or_path", "") or ""))
    parts = path.parts
    if "snapshots" in parts and parts.index("snapshots") + 1 < len(parts):
        return parts[parts.index("snapshots") + 1]
    return None


class _Generators:
    """Seeds that become fresh CPU generators whenever a slice of them is taken."""

    def __init__(self, seeds: list[int]):
        self.seeds = seeds

    def __getitem__(self, part: slice) -> list:
        return seeded(self.seeds[part])


class DiffusersGenerator:
    """Text-to-image with any diffusers pipeline; one batched call per round, one noise per seed."""

    name = "diffusers"

    def __init__(self, spec: ModelSpec, device: str | None = None, dtype: str | None = None):
        self.spec = spec
        self.device = pick_device(device)
        self._dtype_name = dtype
        self._pipe = None
        self._grounding: dict | None = None  # set inside ``grounded()``
        self._joint = None  # set inside ``regional()`` on MMDiT families
        self.prompts = prompt_cache.SHARED  # prompt embeddings, encoded once per prompt and batch size

    @property
    def dtype(self):
        return pick_dtype(self.device, self.spec.family, self._dtype_name)

    @property
    def loaded(self):
        """The pipeline the weights' ``model_index.json`` names (for GLIGEN, the grounded pipeline)."""
        return load_pipeline(self.spec, self.device, self.dtype)

    @property
    def pipe(self):
        """The text-to-image pipeline plain calls use: the loaded one, or the family's plain class sharing its
        modules (``from_pipe``) when the loaded one needs more than a prompt (GLIGEN's phrases and boxes)."""
        if self._pipe is None:
            from limner.tools.generators.families import FAMILY_BY_PIPELINE

            loaded = self.loaded
            # what the loaded class is decides (a manifest may name an older family for the same weights)
            text_class = family_info(FAMILY_BY_PIPELINE.get(type(loaded).__name__, self.spec.family)).text_pipeline
            if text_class and type(loaded).__name__ != text_class:
                import diffusers

                plain = getattr(diffusers, text_class).from_pipe(loaded)
                plain.set_progress_bar_config(disable=True)
                self._pipe = plain
            else:
                self._pipe = loaded
        return self._pipe

    def describe(self) -> dict:
        """What was loaded: for the manifest."""
        import diffusers

        pipe = self.loaded
        return {"pipeline": type(pipe).__name__, "source": self.spec.source, "revision": weights_revision(pipe),
                "loaded_from": str(getattr(pipe.config, "_name_or_path", "")), "device": self.device,
                "dtype": str(self.dtype).replace("torch.", ""), "diffusers": diffusers.__version__}

    def regional(self, regions: list[dict], *, base_ratio: float = 0.3, background: str | None = None):
        """A ``with`` block in which every generation is regional (``limner.tools.generators.regional``)."""
        if self.spec.caps.joint_attention:
            return self._joint_regional(regions)
        from limner.tools.generators.regional import regional_attention

        return regional_attention(self.pipe, self.spec.family, regions, base_ratio=base_ratio, background=background,
                                  cfg=self.spec.uses_cfg, aspect=self.spec.height / self.spec.width)

    @contextmanager
    def _joint_regional(self, regions: list[dict]):
        """SD3 / FLUX: each region's phrase joined to the image tokens in its box by a joint-attention mask
        (``limner.tools.generators.joint_regional``; the base ratio and background are UNet regional settings)."""
        from limner.tools.generators.joint_regional import JointRegions, masked_processors

        previous = self._joint
        self._joint = JointRegions(self.pipe, self.spec.family, regions, height=self.spec.height,
                                   width=self.spec.width, cfg=self.spec.uses_cfg, max_tokens=self.spec.max_text_tokens)
        try:
            with masked_processors(self.pipe, self.spec.family):
                yield self
        finally:
            self._joint = previous

    @contextmanager
    def grounded(self, regions: list[dict], *, beta: float = 1.0, **_layout):
        """A ``with`` block in which every generation is grounded: each region's phrase is given with its box
        (fractions ``[x0, y0, x1, y1]``) to a model trained to take them (GLIGEN), for the first ``beta`` of
        the steps (GLIGEN's scheduled sampling). ``ValueError`` with the reason when the family is not grounded.
        A layout's other settings (``base_ratio``, ``background``: regional attention's) are accepted and unused."""
        why = self.spec.caps.lacks("grounded")
        if why:
            raise ValueError(why)
        if not regions:
            raise ValueError("grounded generation needs at least one region (a phrase and its box)")
        previous = self._grounding
        self._grounding = {"gligen_phrases": [r["phrase"] for r in regions],
                           "gligen_boxes": [[float(v) for v in r["box"]] for r in regions],
                           "gligen_scheduled_sampling_beta": float(beta)}
        try:
            yield self
        finally:
            self._grounding = previous

    def latent_shape(self) -> tuple[int, int, int]:
        pipe = self.pipe
        channels = denoiser_of(pipe).config.in_channels
        factor = pipe.vae_scale_factor
        return (channels, self.spec.height // factor, self.spec.width // factor)

    def generate(
        self,
        prompt: str,
        seeds: list[int] | None = None,
        *,
        noises: list[dict] | None = None,
        base_dir: str | Path | None = None,
        negative_prompt: str = "",
        on_step: Callable[[int, int], None] | None = None,
    ) -> GenerationResult:
        """One batched pipeline call: one image per seed (or per noise spec, see ``limner.tools.generators.noise``).

        A batch that runs out of accelerator memory is split and retried (``limner.tools.generators.memory``).
        """
        if (seeds is None) == (noises is None):
            raise ValueError("generate() takes either seeds or noises")
        if self.spec.caps.lacks("text_to_image"):
            tool = "inpaint" if self.spec.caps.inpaint else "instruct"
            raise ValueError(f"{self.spec.alias}: {self.spec.caps.lacks('text_to_image')}: use "
                             f"limner.tools.editing.{tool} (or `limner edit`), not generate()")
        if noises is None:
            noises = [gaussian_spec(s) for s in seeds]
        spec = self.spec
        pipe = self.loaded if self._grounding else self.pipe
        n = len(noises)
        kwargs: dict = dict(
            num_inference_steps=spec.steps,
            guidance_scale=spec.guidance,
            height=spec.height,
            width=spec.width,
            output_type="pil",
        )
        per_sample: dict = {}  # arguments with one entry per candidate, sliced when a batch is split
        if spec.caps.explicit_noise:
            shape = self.latent_shape()
            per_sample["latents"] = stack(noises, shape, base_dir).to(self.device, self.dtype)
            made = [{**s, "shape": list(shape), "drawn_on": "cpu"} for s in noises]
        else:
            if any(s["kind"] != "gaussian" for s in noises):
                raise ValueError(spec.caps.lacks("explicit_noise"))
            seeds_of = [s["seed"] for s in noises]  # fresh generators per call: a failed call has drawn from them
            per_sample["generator"] = _Generators(seeds_of)
            made = [{"kind": "pipeline-generator", "seed": s["seed"], "drawn_on": "cpu"} for s in noises]
        if self._grounding:
            kwargs |= self._grounding
        if on_step is not None and self._grounding:  # GLIGEN's pipeline takes the older per-step callback

            def step_done(step, _t, _latents):
                on_step(step + 1, spec.steps)

            kwargs |= {"callback": step_done, "callback_steps": 1}
        elif on_step is not None:

            def callback(_pipe, step, _t, tensors):
                on_step(step + 1, spec.steps)
                return tensors

            kwargs["callback_on_step_end"] = callback
        # the pipeline's own rule: LCM-style UNets (time_cond_proj_dim) take no classifier-free guidance
        cfg = spec.uses_cfg and getattr(denoiser_of(pipe).config, "time_cond_proj_dim", None) is None

        def call(lo: int, hi: int):
            args = kwargs | {k: v[lo:hi] for k, v in per_sample.items()}
            args |= self.prompts.kwargs(pipe, spec.family, prompt, negative_prompt, hi - lo, cfg, self.device,
                                        max_tokens=spec.max_text_tokens)
            if self._joint is not None:
                args = self._joint.call_kwargs(args, hi - lo)
            return counted_call(pipe, args)

        try:
            images, nfe, seconds, lost, chunks = split_on_oom(call, n, self._fits_key())
        finally:
            if self._grounding:  # GLIGEN's pipeline leaves its gated layers closed after scheduled sampling
                from limner.tools.generators.grounding import enable_fusers

                enable_fusers(pipe.unet)
        return GenerationResult(images=images, nfe=nfe, seconds=seconds, noise=made, oom_lost_nfe=lost,
                                batch=fitting_batch(self._fits_key()), chunks=chunks)

    def _fits_key(self) -> tuple:
        spec = self.spec
        return (spec.source, self.device, str(self.dtype), spec.height, spec.width)
