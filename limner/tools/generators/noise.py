"""Initial noise: explicit tensors described by JSON specs, drawn on the CPU so a spec gives the same noise anywhere.

A *noise spec* says how a candidate's initial noise was made, so the manifest can rebuild it:

- ``{"kind": "gaussian", "seed": s}``: standard normal noise from seed ``s``.
- ``{"kind": "neighbour", "root": spec, "steps": [[s1, l1], [s2, l2], ...]}``: zero-order search's
  neighbours. Start from the root noise (a gaussian or file spec) and apply ``x = shell(x + l * gaussian(s))`` for each step, where
  ``shell`` rescales each sample to the norm ``sqrt(numel)`` that Gaussian noise concentrates on.
- ``{"kind": "file", "path": "candidates/x.noise.safetensors", "sha256": ...}``: a tensor saved beside the
  candidate (noise optimised by gradients); the path is relative to the run folder.

Noise is always float32 on the CPU; callers move it.
"""

from __future__ import annotations

from pathlib import Path


def gaussian(seed: int, shape: tuple[int, ...]):
    import torch

    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    return torch.randn(shape, generator=gen, dtype=torch.float32)


def batch_noise(seeds: list[int], shape: tuple[int, ...]):
    """Stack one noise tensor of ``shape`` (without batch dim) per seed."""
    import torch

    return torch.stack([gaussian(s, shape) for s in seeds])


def derive_seed(base_seed: int, index: int) -> int:
    """The seed of the ``index``-th candidate of a run: documented so any candidate can be re-derived."""
    return (int(base_seed) + 1_000_003 * int(index)) % (2**63 - 1)


def shell(x):
    """Rescale a single noise tensor to norm ``sqrt(numel)`` (the Gaussian shell)."""
    return x * (x.numel() ** 0.5 / x.norm().clamp_min(1e-12))


def gaussian_spec(seed: int) -> dict:
    return {"kind": "gaussian", "seed": int(seed)}


def neighbour_spec(pivot: dict, seed: int, lam: float) -> dict:
    """A neighbour of ``pivot`` (a gaussian or neighbour spec) one step of size ``lam`` away."""
    if pivot["kind"] in {"gaussian", "file"}:
        root = {k: pivot[k] for k in ("kind", "seed", "path", "sha256") if k in pivot}
        return {"kind": "neighbour", "root": root, "steps": [[int(seed), float(lam)]]}
    if pivot["kind"] == "neighbour":
        return {"kind": "neighbour", "root": pivot["root"], "steps": pivot["steps"] + [[int(seed), float(lam)]]}
    raise ValueError(f"cannot take a neighbour of a '{pivot['kind']}' noise: the pivot needs explicit noise")


EXPLICIT_KINDS = {"gaussian", "neighbour", "file"}


def materialise(spec: dict, shape: tuple[int, ...], base_dir: str | Path | None = None):
    """The noise tensor (float32, CPU, ``shape`` without batch dim) that ``spec`` describes."""
    kind = spec.get("kind")
    if kind in {"gaussian", "pipeline-generator"}:
        return gaussian(spec["seed"], shape)
    if kind == "neighbour":
        x = materialise(spec["root"], shape, base_dir)
        for seed, lam in spec["steps"]:
            x = shell(x + float(lam) * gaussian(seed, shape))
        return x
    if kind == "file":
        from safetensors.torch import load_file

        path = Path(spec["path"])
        if not path.is_absolute():
            if base_dir is None:
                raise ValueError(f"noise file {path} is relative: pass the run folder as base_dir")
            path = Path(base_dir) / path
        x = load_file(str(path))["noise"]
        if tuple(x.shape) != tuple(shape):
            raise ValueError(f"noise file {path} holds shape {tuple(x.shape)}, the model needs {tuple(shape)}")
        return x
    raise ValueError(f"unknown noise kind '{kind}'")


def stack(specs: list[dict], shape: tuple[int, ...], base_dir: str | Path | None = None):
    import torch

    return torch.stack([materialise(s, shape, base_dir) for s in specs])


def save_noise(tensor, path: Path) -> dict:
    """Save one noise tensor (safetensors) and return its ``file`` spec (path as given, hash of the file)."""
    from safetensors.torch import save_file

    from limner.tools.images import sha256_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    save_file({"noise": tensor.detach().to("cpu", copy=True).float().contiguous()}, str(tmp))
    tmp.replace(path)
    return {"kind": "file", "path": str(path), "sha256": sha256_file(path)}
