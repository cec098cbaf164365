"""Settings from the environment (``LIMNER_*``, ``OPENAI_API_KEY``), read with pydantic-settings."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIMNER_", extra="ignore")

    llm_base_url: str | None = Field(default=None, description="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1")
    llm_model: str | None = Field(default=None, description="chat model used for planning")
    vlm_model: str | None = Field(default=None, description="vision model for the VLM judge (default: llm_model)")
    llm_timeout: float = Field(default=60.0, gt=0)
    llm_max_retries: int = Field(default=2, ge=0, le=10)
    api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "LIMNER_API_KEY"))
    device: str = "auto"
    dtype: str = "auto"

    @property
    def llm_configured(self) -> bool:
        """An endpoint is configured: a base URL, or an OpenAI key with a model name."""
        return bool(self.llm_base_url or (self.api_key and self.llm_model))


def load_settings() -> Settings:
    return Settings()
