"""What a service is started with (``limner serve`` options): where runs go, what it serves, and its limits."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr

LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


class Limits(BaseModel):
    """What one request may ask for; anything beyond is a 4xx that names the limit, never a clamp in silence."""

    max_body_bytes: int = Field(25 * 2**20, description="largest request body (an upload included)")
    max_side: int = Field(2048, description="largest width or height a request may ask for")
    max_upload_pixels: int = Field(4096 * 4096, description="largest uploaded image, in pixels (decompression bombs)")
    max_n: int = Field(4, description="most images one request may ask for")
    max_rounds: int = Field(8, description="most rounds of the agent one request may ask for")
    max_candidates: int = Field(8, description="most candidates per round one request may ask for")
    max_steps: int = Field(150, description="most denoising steps one request may ask for")
    max_prompt_chars: int = Field(4000)


class ServiceConfig(BaseModel):
    out: Path = Field(Path("limner-runs"), description="the runs folder: run folders, the job queue, uploads")
    host: str = "127.0.0.1"
    port: int = Field(8420, ge=0, le=65535)
    model: str | None = Field(None, description="the model a request gets when it names none")
    policy: str = "default"
    api_key: SecretStr | None = None
    cors_origins: list[str] = Field(default_factory=list)
    limits: Limits = Field(default_factory=Limits)
    device: str | None = None
    dtype: str | None = None
    max_models: int = Field(2, ge=1, description="pipelines kept loaded; the least recently used is evicted")
    offload: str | None = Field(None, pattern="^(model|sequential)$", description="CPU offload of a loaded pipeline")

    def is_loopback(self) -> bool:
        if self.host in LOOPBACK_NAMES:
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def refusal(self) -> str | None:
        """Why the service must not start as configured, or None."""
        if not self.is_loopback() and self.api_key is None:
            return (f"refusing to listen on {self.host} without an API key: anyone who can reach it could run "
                    "the GPU; pass --api-key KEY (or set LIMNER_API_KEY), or keep --host 127.0.0.1")
        return None

    @property
    def service_dir(self) -> Path:
        """The service's own files inside the runs folder: the job queue, event logs, uploads."""
        return self.out / ".limner-service"
