"""What weights each verifier needs, declared as data, so a run can check them before it starts and
``limner pull`` / ``limner doctor`` can fetch or report them.

A weight reference is ``repo_id`` (a model repository), ``repo_id:filename`` (one file of a repository),
a local path, or ``builtin:NAME`` (shipped with Limner). ``world`` is ``"shapes"`` for the embedded
models (their images are judged by the shapes-world verifiers) and ``"real"`` for every other model.
"""

from __future__ import annotations

from pathlib import Path

REAL_CLIP = "openai/clip-vit-large-patch14"  # CLIPScore's documented default for real images
BUILTIN_RANDOM = "builtin:tiny-random-clip"
BUILTIN_SHAPES = "builtin:shapes-clip"
REAL_DETECTOR = "google/owlv2-base-patch16-ensemble"  # OWLv2 B/16, the open-vocabulary detector answering checks
BUILTIN_SHAPES_DETECTOR = "builtin:shapes-owl"


def default_clip_model(world: str = "shapes") -> str:
    """``LIMNER_CLIP_MODEL`` if set; else ``shapes-clip`` for the shapes world and CLIP ViT-L/14 for real images."""
    from limner.tools.settings import load_settings

    return load_settings().clip_model or (BUILTIN_SHAPES if world == "shapes" else REAL_CLIP)


def default_detector(world: str = "shapes") -> str:
    """``LIMNER_DETECTOR_MODEL`` if set; else shapes-owl for the shapes world and OWLv2 B/16 for real images."""
    from limner.tools.settings import load_settings

    return load_settings().detector_model or (BUILTIN_SHAPES_DETECTOR if world == "shapes" else REAL_DETECTOR)


def questions_weights(options: dict, world: str) -> list[str]:
    """The detector answerer loads its detector and, reading colours from crops, a CLIP."""
    if options.get("answerer") != "detector":
        return []
    from limner.tools.verifiers.detector import folder_settings

    refs = [options.get("detector") or default_detector(world)]
    if (options.get("color") or folder_settings(refs[0]).get("color", "clip")) == "clip":
        refs.append(options.get("clip") or default_clip_model(world))
    return refs


def world_of(source: str) -> str:
    """The embedded models (``builtin:``) draw the shapes world; every other model draws real images."""
    return "shapes" if source.startswith("builtin:") else "real"


def clip_weights(options: dict, world: str) -> list[str]:
    return [options.get("model") or default_clip_model(world)]


def pickscore_weights(options: dict, world: str) -> list[str]:
    from limner.tools.verifiers.pickscore import PickScore

    model = options.get("model") or PickScore.default_model
    return [model] + ([options.get("processor") or PickScore.default_processor] if not options.get("model")
                      or options.get("processor") else [])


def hpsv2_weights(options: dict, world: str) -> list[str]:
    from limner.tools.verifiers.hpsv2 import ARCHITECTURE, CHECKPOINT

    return [options.get("model") or ARCHITECTURE, options.get("checkpoint") or CHECKPOINT]


def aesthetic_weights(options: dict, world: str) -> list[str]:
    from limner.tools.verifiers.aesthetic import MLP_WEIGHTS, Aesthetic

    return [options.get("model") or Aesthetic.default_model, options.get("mlp") or MLP_WEIGHTS]


def is_present(ref: str) -> bool:
    """Whether a weight reference can be loaded here without a download."""
    if ref.startswith("builtin:") or Path(ref).expanduser().exists():
        return True
    from huggingface_hub import try_to_load_from_cache

    repo, _, filename = ref.partition(":")
    return isinstance(try_to_load_from_cache(repo, filename or "config.json"), str)


def download(ref: str) -> str:
    """Fetch one weight reference into the Hugging Face cache (safetensors and configs of a repository)."""
    from huggingface_hub import hf_hub_download, snapshot_download

    repo, _, filename = ref.partition(":")
    if filename:
        return hf_hub_download(repo, filename)
    return snapshot_download(repo, allow_patterns=["*.json", "*.txt", "*.safetensors", "*.model"])
