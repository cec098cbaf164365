"""A plan's layout: where each object goes (LMD, RPG). One schema for the LLM's output and the rules planner.

Boxes are ``[x0, y0, x1, y1]`` as fractions of the image (origin top left). Validation repairs only rounding
slop (a coordinate up to ``SLOP`` outside the canvas is clamped); anything else wrong (a box further out,
no area, two regions on top of each other, a region naming an object the plan lacks) is rejected with a
message that says which region and why, so the LLM client's repair turn can fix it.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SLOP = 0.05  # coordinates this far outside [0, 1] are clamped; further out is an error
MIN_SIDE = 0.04  # a region narrower or shorter than this is an error
MAX_OVERLAP = 0.5  # two regions may share at most this fraction of the smaller one's area


MAX_REGIONS = 16  # a layout places at most this many instances; more is a plan without a layout

class Region(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phrase: str = Field(min_length=1, description="what this region shows, e.g. 'a red circle'")
    box: list[float] = Field(min_length=4, max_length=4,
                             description="[x0, y0, x1, y1] as fractions of the image width and height, origin top left")
    object: int | None = Field(default=None, ge=0, description="index into the plan's objects this region shows")
    attributes: list[str] = Field(default_factory=list, description="what the region must show, e.g. ['red']")

    @field_validator("box")
    @classmethod
    def _box(cls, box: list[float]) -> list[float]:
        if any(not math.isfinite(v) for v in box):
            raise ValueError(f"box {box} has a coordinate that is not a number")
        if any(v < -SLOP or v > 1 + SLOP for v in box):
            raise ValueError(f"box {box} is outside the canvas: coordinates are fractions in [0, 1]")
        x0, y0, x1, y1 = (min(1.0, max(0.0, v)) for v in box)
        if x1 - x0 < MIN_SIDE or y1 - y0 < MIN_SIDE:
            raise ValueError(f"box {box} has no usable area: x1 must exceed x0 and y1 exceed y0 by {MIN_SIDE} or more")
        return [round(v, 4) for v in (x0, y0, x1, y1)]


def _area(b) -> float:
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


def overlap(a, b) -> float:
    """Shared area as a fraction of the smaller box."""
    inter = [max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])]
    return _area(inter) / max(1e-9, min(_area(a), _area(b)))


class Layout(BaseModel):
    model_config = ConfigDict(extra="forbid")
    regions: list[Region] = Field(min_length=1, max_length=MAX_REGIONS)
    background: str = Field(default="", description="what the area outside every region shows ('' = no prompt of its own)")
    negative_prompt: str = ""
    base_ratio: float = Field(default=0.3, ge=0.0, le=1.0, description=(
        "how much the whole prompt still acts inside each region (RPG: 0.35-0.55 where entities share a class)"))

    @model_validator(mode="after")
    def _apart(self) -> "Layout":
        for i, a in enumerate(self.regions):
            for j in range(i + 1, len(self.regions)):
                shared = overlap(a.box, self.regions[j].box)
                if shared > MAX_OVERLAP:
                    raise ValueError(f"regions {i} ('{a.phrase}') and {j} ('{self.regions[j].phrase}') overlap by "
                                     f"{shared:.0%} of the smaller one (at most {MAX_OVERLAP:.0%} allowed)")
        return self

    def as_tool_regions(self) -> list[dict]:
        """What ``limner.tools.generators.regional`` takes."""
        return [{"phrase": r.phrase, "box": list(r.box)} for r in self.regions]

    def describe(self) -> list[str]:
        """One line per region, for terminals."""
        return [f"{r.phrase}: [{', '.join(f'{v:.2f}' for v in r.box)}]" for r in self.regions]
