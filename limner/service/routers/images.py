"""OpenAI's Images API: ``POST /v1/images/generations``, ``POST /v1/images/edits``, ``GET /v1/models``.

The agent runs behind it (plan, generate, verify, repair, under the policy's budgets); the images answered are the
run's best candidates, best first. Limner's verdict, run id and checks ride in ``limner``, which OpenAI clients
ignore.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, File, Form, Request, UploadFile

from limner.service.runs import RequestError, png_b64
from limner.service.schemas import (ErrorResponse, ImageGenerationRequest, ImagesResponse, ModelCard, ModelList,
                                    RunRequest)

router = APIRouter(prefix="/v1", tags=["OpenAI Images"],
                   responses={400: {"model": ErrorResponse}, 401: {"model": ErrorResponse},
                              404: {"model": ErrorResponse}, 413: {"model": ErrorResponse}})


def parse_size(size: str | None, runs) -> tuple[int | None, int | None]:
    if size in (None, "", "auto"):
        return None, None
    try:
        w, h = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise RequestError(400, f"size '{size}' is not WIDTHxHEIGHT (e.g. 512x512) or auto", "invalid_size",
                           "size") from None
    if w < 8 or h < 8 or w % 8 or h % 8:
        raise RequestError(400, f"size {w}x{h}: both sides must be multiples of 8, at least 8", "invalid_size", "size")
    runs.check_size(w, h)
    return w, h


def check_n(n: int, runs) -> int:
    if not 1 <= n <= runs.config.limits.max_n:
        raise RequestError(400, f"n {n}: this server answers 1 to {runs.config.limits.max_n} images per request",
                           "invalid_n", "n")
    return n


async def answer(request: Request, job: dict, n: int, response_format: str | None, prompt: str) -> dict:
    runs = request.app.state.runs
    done = await runs.wait(job["id"])
    result = done.get("result") or {}
    if done["status"] == "failed" and not result.get("best_id"):  # a request checked at submit: the server failed
        raise RequestError(500, f"the run failed: {done.get('error') or result.get('stop_reason')} (run "
                           f"{done['id']}: GET /v1/runs/{done['id']})", "run_failed")
    images = runs.images_of(done, n)
    base = str(request.base_url).rstrip("/")
    data = []
    for im in images:
        rel = im["path"].split(f"{done['id']}/", 1)[1]
        datum = ({"url": f"{base}/v1/runs/{done['id']}/files/{rel}"} if response_format == "url"
                 else {"b64_json": png_b64(im["path"])})
        data.append({**datum, "revised_prompt": prompt})
    return {"created": int(time.time()), "data": data,
            "limner": {"run_id": done["id"], "status": done["status"], "stop_reason": result.get("stop_reason"),
                       "score": result.get("score"), "checks": result.get("checks"),
                       "candidates": [im["id"] for im in images]}}


@router.post("/images/generations", response_model=ImagesResponse)
async def generations(body: ImageGenerationRequest, request: Request):
    """Generate: the brief runs through the agent; ``n`` best candidates come back (``b64_json`` by default)."""
    runs = request.app.state.runs
    n = check_n(body.n, runs)
    width, height = parse_size(body.size, runs)
    fields = runs.brief_fields(RunRequest(prompt=body.prompt, model=body.model, width=width, height=height))
    fields = runs.want_images(fields, n)
    job = await runs.queue(fields, kind="openai.generations")
    return await answer(request, job, n, body.response_format, body.prompt)


@router.post("/images/edits", response_model=ImagesResponse)
async def edits(request: Request, prompt: str = Form(...), image: list[UploadFile] = File(...),
                mask: UploadFile | None = File(None), model: str | None = Form(None), n: int = Form(1),
                size: str | None = Form(None), response_format: str | None = Form(None)):
    """Edit (multipart): ``image``, ``prompt`` and an optional ``mask`` whose transparent pixels (alpha 0) mark the
    area to change; without a mask the model's own way of editing applies."""
    runs = request.app.state.runs
    n = check_n(n, runs)
    if response_format not in (None, "b64_json", "url"):
        raise RequestError(400, "response_format must be b64_json or url", "invalid_response_format",
                           "response_format")
    width, height = parse_size(size, runs)
    fields = runs.brief_fields(RunRequest(prompt=prompt, model=model, width=width, height=height))
    if fields.get("policy") == "default":  # the server's default policy is for new images: an edit gets edit's
        fields["policy"] = "edit"
    fields = runs.want_images(fields, n)
    job = await runs.queue(fields, kind="openai.edits", image=await image[0].read(),
                        mask=await mask.read() if mask is not None else None)
    return await answer(request, job, n, response_format, prompt)


@router.get("/models", response_model=ModelList)
def models(request: Request):
    """The models this server answers with (registered aliases; ``limner`` is the server's default)."""
    runs = request.app.state.runs
    return {"object": "list", "data": [ModelCard(id=name).model_dump() for name in ["limner", *runs.model_names()]]}
