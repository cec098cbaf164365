"""A brief: what the user asks for, validated before anything runs."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Brief(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(description="what the image should show")
    negative_prompt: str = ""
    model: str | None = Field(default=None, description="model alias, hub id or diffusers folder")
    policy: str = Field(default="default", description="shipped policy name or path to a YAML file")
    threshold: float | None = Field(default=None, description="score in [0, 1] that ends the run")
    max_rounds: int | None = Field(default=None, ge=1, le=1000)
    candidates: int | None = Field(default=None, ge=1, le=64, description="candidates per round")
    images: int | None = Field(default=None, ge=1, le=64, description="images the caller wants back (an API's n): "
                               "a round makes at least this many candidates, budgets allowing")
    seed: int | None = Field(default=None, ge=0, le=2**62)
    width: int | None = Field(default=None, ge=8, le=4096, multiple_of=8, description="image width (default: the model's)")
    height: int | None = Field(default=None, ge=8, le=4096, multiple_of=8, description="image height")
    steps: int | None = Field(default=None, ge=1, le=1000, description="denoising steps (default: the model's)")
    guidance: float | None = Field(default=None, ge=0, le=100, description="guidance scale (default: the model's)")
    planner: str | None = Field(default=None, description="rules, llm or auto (overrides the policy)")
    image: str | None = Field(default=None, description="an image to edit (its copy in the run folder is input.png)")
    box: list[float] | None = Field(default=None, description="edit only this box: [x0, y0, x1, y1] as fractions")
    mask: str | None = Field(default=None, description="edit only where this mask image is white")

    @field_validator("box")
    @classmethod
    def _box(cls, v: list[float] | None) -> list[float] | None:
        if v is not None:
            from limner.tools.generators.regional import check_box

            return list(check_box(v))
        return v

    @field_validator("prompt")
    @classmethod
    def _prompt_not_empty(cls, v: str) -> str:
        v = " ".join(v.split())
        if not v:
            raise ValueError("the prompt is empty")
        return v

    @field_validator("threshold")
    @classmethod
    def _threshold_range(cls, v: float | None) -> float | None:
        if v is not None and not 0.0 <= v <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {v}")
        return v
