"""Image generators: the model-alias registry and the diffusers backend."""

from limner.tools.generators.models import MODELS, ModelSpec, default_model, resolve_model

__all__ = ["MODELS", "ModelSpec", "default_model", "resolve_model"]
