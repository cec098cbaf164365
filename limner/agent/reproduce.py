"""Regenerate a candidate from its manifest entry."""

from __future__ import annotations

from pathlib import Path

from dataclasses import replace

from limner.tools.generators import ModelSpec, resolve_model

_SPEC_KEYS = ("kind", "seed", "root", "steps", "path", "sha256")
# a seeded family's pipeline draws the noise of a gaussian spec from the same seed on the CPU
_SAME_KIND = {"pipeline-generator": "gaussian"}


def _same_noise(a: dict, b: dict) -> bool:
    def key(spec: dict) -> dict:
        out = {k: spec.get(k) for k in _SPEC_KEYS}
        out["kind"] = _SAME_KIND.get(out["kind"], out["kind"])
        return out

    return key(a) == key(b)


def recorded_spec(entry: dict) -> ModelSpec:
    """The model a candidate was made with: its recorded weights (never an alias of the same name), at the
    recorded revision and settings."""
    from limner.tools.generators.model_files import cached_snapshot

    base = resolve_model(entry["model"])
    revision = entry.get("model_revision") or base.revision
    if revision and revision != base.revision:
        if cached_snapshot(base.source, revision) is None:
            raise ValueError(f"{entry['id']} was made with {base.source} at revision {revision}, which is not in "
                             f"the local Hugging Face cache: run `limner pull {base.source} --revision {revision}`")
        base = replace(base, revision=revision)
    s = entry["settings"]
    return ModelSpec(**{**base.to_dict(), "steps": s["steps"], "guidance": s["guidance"], "width": s["width"],
                        "height": s["height"], "scheduler": s["scheduler"]})


def regenerate(entry: dict, run_dir: str | Path | None = None, *, device: str | None = None):
    """The candidate's image, regenerated from its manifest entry.

    - Pipeline candidates rerun their whole batch (``batch_noise``, or ``batch_seeds`` in older manifests)
      in one call, as originally, because batched kernels can round differently from single ones (at most
      one intensity level on a few pixels on the CPU): bit-identical on the same device.
    - Loop candidates (``sampler: limner-loop``) rerun Limner's denoising loop: a saved noise file (reno)
      is bit-identical on the same device; a path (paths search) is replayed alone, so it can differ from
      the batched original by one intensity level on a few pixels.

    ``run_dir`` is needed for candidates whose noise is a file in the run folder.
    - An edit's input candidate (``sampler: input``) is the run's ``input.png``, checked by hash.
    - The model is the recorded weights (``model``, a folder or hub id, at ``model_revision``), not an alias.
    - Edited candidates (``sampler: inpaint``, ``variation`` or ``instruct``) edit their parent's PNG again, with the same seeds
      in one batch.
    - Regional candidates rerun inside the same regional attention (``regional``: regions, base ratio), grounded
      ones with the same boxes (``grounded``: regions, the share of steps that take them).
    """
    from limner.tools.generators.diffusers_backend import DiffusersGenerator

    if entry.get("sampler") == "input":
        return _input_image(entry, run_dir)
    s = entry["settings"]
    gen = DiffusersGenerator(recorded_spec(entry), device=device or s.get("device"), dtype=s.get("dtype"))
    noise = entry["noise"]
    if entry.get("sampler") in {"inpaint", "variation", "instruct"}:
        return _redo_edit(gen, entry, run_dir)
    if entry.get("grounded"):
        with gen.grounded(**entry["grounded"]):
            return _regenerate(gen, entry, noise, run_dir)
    if entry.get("regional"):
        with gen.regional(**entry["regional"]):
            return _regenerate(gen, entry, noise, run_dir)
    return _regenerate(gen, entry, noise, run_dir)


def _input_image(entry: dict, run_dir):
    """An edit's input candidate is the user's image as it was given: read back from the run folder, by hash."""
    from PIL import Image

    from limner.tools.images import sha256_file

    if run_dir is None:
        raise ValueError("regenerating an edit's input candidate needs run_dir (the input is in the run folder)")
    path = Path(run_dir) / "input.png"
    if not path.is_file() or sha256_file(path) != entry["noise"].get("sha256"):
        raise ValueError(f"{path} is not the image this run edited (missing, or its sha256 differs)")
    with Image.open(path) as im:
        return im.convert("RGB")


def _redo_edit(gen, entry: dict, run_dir):
    """An edit: the parent's saved PNG (checked by hash), edited again with the recorded batch of seeds."""
    from PIL import Image

    from limner.tools.editing import box_mask_image, inpaint, instruct, variation
    from limner.tools.images import sha256_file

    edit = entry["edit"]
    if run_dir is None:
        raise ValueError("regenerating a repaired candidate needs run_dir (its parent image is in the run folder)")
    parent = Path(run_dir) / edit.get("parent_path", f"candidates/{edit['parent']}.png")
    if sha256_file(parent) != edit["parent_sha256"]:
        raise ValueError(f"{parent} is not the image this candidate was repaired from (sha256 differs)")
    with Image.open(parent) as im:
        image = im.convert("RGB")
    if edit["editor"] == "instruct":
        result = instruct(gen, image, edit["prompt"], edit["seeds"], image_guidance=edit["image_guidance"],
                          negative_prompt=edit.get("negative_prompt", ""), steps=edit["steps"])
        return result.images[edit["seeds"].index(entry["seed"])]
    if edit["editor"] == "variation":
        result = variation(gen, image, edit["prompt"], edit["seeds"], strength=edit["strength"],
                           negative_prompt=edit.get("negative_prompt", ""), steps=edit["steps"])
        return result.images[edit["seeds"].index(entry["seed"])]
    if edit.get("erase"):  # a move: the erasing pass first, over the whole batch
        erase = edit["erase"]
        image = inpaint(gen, image, box_mask_image(image.size, erase["box"]), erase["prompt"], erase["seeds"],
                        negative_prompt=erase.get("negative_prompt", ""), strength=erase["strength"],
                        feather=erase["feather"], steps=erase["steps"], guidance=erase.get("guidance")).images
    size = (image[0] if isinstance(image, list) else image).size
    if edit.get("mask_path"):
        from limner.tools.editing import load_mask

        mask = load_mask(Path(run_dir) / edit["mask_path"], size)
    elif edit.get("within"):  # a repair inside a person's mask: its box, where the mask also is
        from limner.agent._graph.nodes.edit import inside

        mask = inside(box_mask_image(size, edit["box"]), Path(run_dir) / edit["within"])
    else:
        mask = box_mask_image(size, edit["box"])
    result = inpaint(gen, image, mask, edit["prompt"], edit["seeds"], negative_prompt=edit.get("negative_prompt", ""),
                     strength=edit["strength"], feather=edit["feather"], steps=edit["steps"],
                     grounding=edit.get("grounding"), guidance=edit.get("guidance"))
    return result.images[edit["seeds"].index(entry["seed"])]


def _regenerate(gen, entry: dict, noise: dict, run_dir):
    from limner.tools.generators.noise import gaussian_spec

    if entry.get("sampler", "pipeline") == "limner-loop":
        from limner.tools.generators.loop import DenoiseLoop

        loop = DenoiseLoop(gen, entry["prompt"], entry.get("negative_prompt", ""))
        try:
            if noise["kind"] == "path":
                from limner.tools.search.paths import replay

                return replay(loop, noise)
            from limner.tools.generators.noise import materialise

            return loop.sample(materialise(noise, gen.latent_shape(), run_dir)[None])[0]
        finally:
            loop.close()
    batch = entry.get("batch_noise") or [gaussian_spec(x) for x in entry.get("batch_seeds") or [entry["seed"]]]
    index = next(i for i, b in enumerate(batch) if _same_noise(b, noise))
    result = gen.generate(entry["prompt"], noises=batch, base_dir=run_dir, negative_prompt=entry.get("negative_prompt", ""))
    return result.images[index]
