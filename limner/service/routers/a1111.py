"""A1111's ``POST /sdapi/v1/txt2img``, and the two reads its clients make first (models, options): enough for
Open WebUI's and LibreChat's Automatic1111 settings."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request

from limner.service.runs import RequestError, png_b64
from limner.service.schemas import ErrorResponse, RunRequest, Txt2ImgRequest, Txt2ImgResponse

router = APIRouter(prefix="/sdapi/v1", tags=["A1111"], responses={400: {"model": ErrorResponse}})


@router.post("/txt2img", response_model=Txt2ImgResponse)
async def txt2img(body: Txt2ImgRequest, request: Request):
    """The brief runs through the agent; ``batch_size * n_iter`` best candidates come back as base64 PNGs."""
    runs = request.app.state.runs
    n = body.batch_size * body.n_iter
    if n > runs.config.limits.max_n:
        raise RequestError(400, f"batch_size * n_iter = {n}: this server answers at most "
                           f"{runs.config.limits.max_n} images per request", "invalid_n", "batch_size")
    for what, v in (("width", body.width), ("height", body.height)):
        if v is not None and v % 8:
            raise RequestError(400, f"{what} {v} is not a multiple of 8", "invalid_size", what)
    fields = runs.brief_fields(RunRequest(prompt=body.prompt, negative_prompt=body.negative_prompt,
                                          width=body.width, height=body.height, steps=body.steps,
                                          guidance=body.cfg_scale, seed=body.seed if body.seed >= 0 else None))
    fields = runs.want_images(fields, n)
    job = await runs.queue(fields, kind="a1111.txt2img")
    done = await runs.wait(job["id"])
    images = runs.images_of(done, n)
    if not images:  # a request checked at submit: the server failed
        raise RequestError(500, f"the run failed: {done.get('error') or (done.get('result') or {}).get('stop_reason')} "
                           f"(run {done['id']}: GET /v1/runs/{done['id']})", "run_failed")
    result = done.get("result") or {}
    info = {"run_id": done["id"], "status": done["status"], "score": result.get("score"),
            "stop_reason": result.get("stop_reason"), "candidates": [im["id"] for im in images]}
    return {"images": [png_b64(im["path"]) for im in images], "parameters": body.model_dump(),
            "info": json.dumps(info)}


@router.get("/sd-models")
def sd_models(request: Request) -> list[dict]:
    names = request.app.state.runs.model_names()
    return [{"title": n, "model_name": n, "hash": None, "filename": n} for n in names]


@router.get("/options")
def options(request: Request) -> dict:
    runs = request.app.state.runs
    return {"sd_model_checkpoint": runs.config.model or runs.model_names()[0]}
