"""Regenerate a candidate from its manifest entry."""

from __future__ import annotations

from tools.generators import MODELS, ModelSpec, resolve_model


def regenerate(entry: dict, *, device: str | None = None):
    """The candidate's image, regenerated from its manifest entry (bit-identical on the same device and batch).

    The entry's ``batch_seeds`` are regenerated together, as in the original call,
    because batched kernels can round differently from single ones (at most one
    intensity level on a few pixels on the CPU).
    """
    from tools.generators.diffusers_backend import DiffusersGenerator

    base = resolve_model(entry["model_alias"] if entry["model_alias"] in MODELS else entry["model"])
    s = entry["settings"]
    spec = ModelSpec(**{**base.to_dict(), "steps": s["steps"], "guidance": s["guidance"], "width": s["width"],
                        "height": s["height"], "scheduler": s["scheduler"]})
    gen = DiffusersGenerator(spec, device=device or s.get("device"), dtype=s.get("dtype"))
    seeds = entry.get("batch_seeds") or [entry["seed"]]
    result = gen.generate(entry["prompt"], seeds, negative_prompt=entry.get("negative_prompt", ""))
    return result.images[seeds.index(entry["seed"])]
