"""Request and response models of the service's APIs: they are its OpenAPI document (``/openapi.json``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Budgets(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_rounds: int | None = Field(None, ge=1, description="rounds of the agent at most (capped by the server)")
    candidates: int | None = Field(None, ge=1, description="candidates per round (capped by the server)")
    threshold: float | None = Field(None, ge=0, le=1, description="the score that ends the run")


class RunRequest(BaseModel):
    """``POST /v1/runs``: a brief for the agent."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, description="the brief: what the image should show")
    negative_prompt: str = ""
    policy: str | None = Field(None, description="a shipped policy name (default: the server's)")
    model: str | None = Field(None, description="a registered model alias (default: the server's)")
    budgets: Budgets = Field(default_factory=Budgets)
    seed: int | None = Field(None, ge=0, le=2**62)
    width: int | None = Field(None, ge=8, multiple_of=8)
    height: int | None = Field(None, ge=8, multiple_of=8)
    steps: int | None = Field(None, ge=1)
    guidance: float | None = Field(None, ge=0, le=100)
    image: str | None = Field(None, description="an image to edit: base64 PNG/JPEG (a data: URL works too)")
    mask: str | None = Field(None, description="where to edit: base64 image, white = edit (alpha 0 also = edit)")
    box: list[float] | None = Field(None, description="or a box to edit: [x0, y0, x1, y1] as fractions")
    interactive: bool = Field(False, description="stop at the plan and after each round for a message")


class Accepted(BaseModel):
    id: str
    status: str
    events: str = Field(description="where its live events are (Server-Sent Events)")


class LayoutBox(BaseModel):
    model_config = ConfigDict(extra="forbid")

    object: int = Field(ge=0, description="index into the plan's objects")
    box: list[float] = Field(min_length=4, max_length=4, description="[x0, y0, x1, y1] as fractions of the image")


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, description="a chat turn: 'yes', 'accept', 'pick r01-c02', 'make it blue', "
                                                "'undo', 'back to r01-c00', ...")
    layout: list[LayoutBox] | None = Field(None, description=(
        "at the plan: the layout's boxes as the person moved them; an object left out is removed from the plan"))
    mask: str | None = Field(None, description=(
        "after a round: a brush mask on a candidate (base64 PNG, white or alpha 0 = the part to change): 'it' "
        "means the object under it, and the edit paints only there"))
    candidate: str | None = Field(None, description="the candidate the mask was painted on (default: the current)")


class JobView(BaseModel):
    """``GET /v1/runs/{id}``: a job's status, its plan, candidates with per-check verdicts, and its best."""

    id: str
    status: str
    created: float
    started: float | None = None
    finished: float | None = None
    request: dict
    error: str | None = None
    stop_reason: str | None = None
    plan: dict | None = None
    candidates: list[dict] = Field(default_factory=list)
    best: dict | None = None
    question: dict | None = None
    files: dict = Field(default_factory=dict, description="URLs of the final image, report and manifest")


class JobPage(BaseModel):
    data: list[JobView]
    next_cursor: str | None = Field(None, description="pass as ?cursor= for the next (older) page")


# --- OpenAI Images -----------------------------------------------------------------------------------------
class ImageGenerationRequest(BaseModel):
    """OpenAI's ``POST /v1/images/generations`` body (fields Limner does not use are accepted and ignored)."""

    model_config = ConfigDict(extra="allow")

    prompt: str = Field(min_length=1)
    model: str | None = None
    n: int = Field(1, ge=1)
    size: str | None = Field(None, description="WIDTHxHEIGHT, e.g. 512x512, or auto")
    response_format: Literal["b64_json", "url"] | None = None
    quality: str | None = None
    style: str | None = None
    user: str | None = None


class ImageDatum(BaseModel):
    b64_json: str | None = None
    url: str | None = None
    revised_prompt: str | None = None


class LimnerVerdict(BaseModel):
    """What Limner adds to an OpenAI answer (clients ignore it): the run, its verdict and the checks."""

    run_id: str
    status: str
    stop_reason: str | None = None
    score: float | None = None
    checks: dict | None = None
    candidates: list[str] = Field(default_factory=list, description="ids of the images returned, best first")


class ImagesResponse(BaseModel):
    created: int
    data: list[ImageDatum]
    limner: LimnerVerdict


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "limner"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorBody(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """Every error, on every route, in OpenAI's shape."""

    error: ErrorBody


# --- A1111 --------------------------------------------------------------------------------------------------
class Txt2ImgRequest(BaseModel):
    """A1111's ``POST /sdapi/v1/txt2img`` (what Open WebUI and LibreChat send; other fields are ignored)."""

    model_config = ConfigDict(extra="allow")

    prompt: str = Field(min_length=1)
    negative_prompt: str = ""
    steps: int | None = Field(None, ge=1)
    cfg_scale: float | None = Field(None, ge=0, le=100)
    width: int | None = Field(None, ge=8)
    height: int | None = Field(None, ge=8)
    seed: int = Field(-1, description="-1: a random seed")
    batch_size: int = Field(1, ge=1)
    n_iter: int = Field(1, ge=1)


class Txt2ImgResponse(BaseModel):
    images: list[str]
    parameters: dict
    info: str
