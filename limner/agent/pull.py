"""What a run with a model and a policy needs on disk, and fetching it: ``limner pull`` and ``limner doctor``.

Usable alone::

    from limner.agent.pull import requirements, pull
    for req in requirements("sdxl-turbo", "default"):
        print(req.what, req.ref, req.present)
    pull("sdxl-turbo", "default")          # downloads what is missing (when online)
"""

from __future__ import annotations

from dataclasses import dataclass

from limner.agent.errors import UsageError


@dataclass
class Requirement:
    what: str  # "model" or "verifier NAME"
    ref: str  # hub id, repo:file, folder, builtin:NAME
    present: bool
    revision: str | None = None


def _spec(model: str | None):
    from limner.tools.generators import resolve_model
    from limner.tools.generators.models import MODELS

    try:
        return resolve_model(model)
    except ValueError as exc:
        if model in MODELS or model is None:
            raise UsageError(str(exc)) from None
        from limner.tools.generators.models import _looks_like_hub_id

        if _looks_like_hub_id(model):  # not cached yet: a hub id is what pull fetches
            return None
        raise UsageError(str(exc)) from None


def requirements(model: str | None, policy: str = "default", verifiers: list[str] | None = None) -> list[Requirement]:
    """Everything a run with ``model`` and ``policy`` (or only the named verifiers) loads from disk."""
    from limner.agent.policy import load_policy
    from limner.tools.generators.model_files import cached_snapshot
    from limner.tools.verifiers import required_weights
    from limner.tools.verifiers.requirements import is_present, world_of

    spec = _spec(model)
    out: list[Requirement] = []
    source = spec.source if spec is not None else model
    if not verifiers:
        if source.startswith("builtin:") or _is_folder(source):
            out.append(Requirement("model", source, True))
        else:
            snap = cached_snapshot(source, spec.revision if spec else None)
            out.append(Requirement("model", source, snap is not None, snap[1] if snap else None))
    world = world_of(source)
    # ``questions:detector``: the questions verifier with that answerer (its weights: the detector and a CLIP)
    refs = ([(v.name, v.options) for v in load_policy(policy).verifiers] if not verifiers else
            [(v.partition(":")[0], {"answerer": v.partition(":")[2]} if ":" in v else {}) for v in verifiers])
    for name, options in refs:
        for ref in required_weights(name, options, world):
            out.append(Requirement(f"verifier {name}", ref, is_present(ref)))
    return out


def _is_folder(source: str) -> bool:
    from pathlib import Path

    return Path(source).expanduser().is_dir()


def pull(model: str | None, policy: str = "default", verifiers: list[str] | None = None, *,
         revision: str | None = None, echo=print) -> list[Requirement]:
    """Download every missing requirement (with the hub client's progress bars); returns them after."""
    from limner.tools.generators.model_files import hub_unreachable, offline

    needed = requirements(model, policy, verifiers)
    missing = [r for r in needed if not r.present or (r.what == "model" and revision and r.revision != revision)]
    if not missing:
        return needed
    if offline():
        raise UsageError(f"HF_HUB_OFFLINE=1: cannot download {missing[0].ref} ({len(missing)} missing); unset it to pull")
    unreachable = hub_unreachable()
    if unreachable:
        raise UsageError(f"{unreachable}: cannot download {missing[0].ref} ({len(missing)} missing)")
    for req in missing:
        echo(f"pulling {req.ref} ({req.what})")
        try:
            if req.what == "model":
                _download_pipeline(req.ref, revision)
            else:
                _download_ref(req.ref)
        except Exception as exc:  # the hub raises many kinds (gated, 404, network): one line each
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            raise UsageError(f"cannot download {req.ref}: {first}") from None
    return requirements(model, policy, verifiers)


def _download_pipeline(repo_id: str, revision: str | None) -> str:
    """diffusers' own download: the files a pipeline loads (safetensors preferred), nothing else."""
    import diffusers

    return diffusers.DiffusionPipeline.download(repo_id, revision=revision)


def _download_ref(ref: str) -> str:
    from limner.tools.verifiers.requirements import download

    return download(ref)
