"""Every ``LIMNER_*`` environment variable (and ``OPENAI_API_KEY``), in one pydantic-settings object.

Read fresh on each call (``load_settings()``), so a process that changes its environment, as tests do, sees
the change. Nothing else in Limner reads a ``LIMNER_*`` variable.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIMNER_", extra="ignore")

    # the LLM planner and VLM verifiers (any OpenAI-compatible endpoint)
    llm_base_url: str | None = Field(default=None, description="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1")
    llm_model: str | None = Field(default=None, description="chat model used for planning")
    vlm_model: str | None = Field(default=None, description="vision model for the VLM judge (default: llm_model)")
    llm_timeout: float = Field(default=60.0, gt=0)
    llm_max_retries: int = Field(default=2, ge=0, le=10)
    llm_max_tokens: int = Field(default=2048, ge=16, le=200_000, description=(
        "most tokens of one structured answer: a model that ignores the JSON format and rambles stops there"))
    llm_temperature: float | None = Field(default=None, ge=0, le=2, description=(
        "sampling temperature of structured answers (plans, checks); 0 makes a local model repeat itself; "
        "default: the server's"))
    api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "LIMNER_API_KEY"))
    # generation
    model: str | None = Field(default=None, description="the model used when none is named (default: shapes-tiny)")
    device: str = Field(default="auto", description="cuda, mps, cpu or auto")
    dtype: str = Field(default="auto", description="float32, float16, bfloat16 or auto")
    offload: str | None = Field(default=None, pattern="^(model|sequential)$", description=(
        "CPU offload of pipelines loaded on a CUDA device: model (diffusers' model offload) or sequential"))
    # verification
    clip_model: str | None = Field(default=None, description=(
        "CLIPScore's weights (default: shapes-clip for the embedded models, openai/clip-vit-large-patch14 else)"))
    detector_model: str | None = Field(default=None, description=(
        "the open-vocabulary detector that answers checks (default: shapes-owl for the embedded models, "
        "google/owlv2-base-patch16-ensemble else)"))
    # the MCP server
    mcp_allow_read: str = Field(default="", description=(
        "folders whose images `limner mcp`'s tools may read, separated by os.pathsep (default: the working "
        "folder; the runs folder always)"))
    # the HTTP service
    serve_api_key: SecretStr | None = Field(default=None, description=(
        "the bearer token `limner serve` requires on every route but /health (needed to listen beyond loopback); "
        "not LIMNER_API_KEY, which is the LLM endpoint's key: one secret is never sent where the other goes"))
    # files
    home: Path | None = Field(default=None, description="where Limner keeps its files (default: "
                                                        "$XDG_DATA_HOME/limner or ~/.local/share/limner)")

    @property
    def llm_configured(self) -> bool:
        """An endpoint is configured: a base URL, or an OpenAI key with a model name."""
        return bool(self.llm_base_url or (self.api_key and self.llm_model))


def load_settings() -> Settings:
    return Settings()
