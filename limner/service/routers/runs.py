"""The job API: ``POST /v1/runs`` queues a brief and answers its id at once; ``GET /v1/runs/{id}`` shows it;
``GET /v1/runs/{id}/events`` streams what happens (Server-Sent Events, resumable with ``Last-Event-ID``);
``POST /v1/runs/{id}/cancel`` stops it at its next denoising step; ``POST /v1/runs/{id}/messages`` is a chat turn;
``GET /v1/runs`` pages through the history, newest first."""

from __future__ import annotations

import json

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from limner.service.jobs import ENDED
from limner.service.runs import RequestError
from limner.service.schemas import Accepted, ErrorResponse, JobPage, JobView, Message, RunRequest

router = APIRouter(prefix="/v1/runs", tags=["runs"],
                   responses={400: {"model": ErrorResponse}, 401: {"model": ErrorResponse},
                              404: {"model": ErrorResponse}, 409: {"model": ErrorResponse}})


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.post("", response_model=Accepted, status_code=202)
async def create(body: RunRequest, request: Request):
    """Queue a brief (checked first: a bad one is a 400 and nothing is queued)."""
    runs = request.app.state.runs
    fields = runs.brief_fields(body)
    if body.image is None and (body.mask is not None or body.box is not None):
        raise RequestError(400, "mask and box mark a region of an image to edit: send image too", "invalid_request",
                           "image")
    job = await runs.queue(fields, body.interactive, body.image, body.mask, "runs")
    return {"id": job["id"], "status": job["status"], "events": f"{_base(request)}/v1/runs/{job['id']}/events"}


@router.get("", response_model=JobPage)
def history(request: Request, limit: int = Query(20, ge=1, le=200), cursor: str | None = None):
    """Runs of this server, newest first; ``cursor`` is the last id of the previous page."""
    runs = request.app.state.runs
    jobs = list(reversed(runs.jobs.all()))
    if cursor is not None:
        ids = [j["id"] for j in jobs]
        if cursor not in ids:
            raise RequestError(400, f"cursor '{cursor}' is not a run of this server", "invalid_cursor", "cursor")
        jobs = jobs[ids.index(cursor) + 1:]
    page = jobs[:limit]
    base = _base(request)
    return {"data": [runs.view(j["id"], base) for j in page],
            "next_cursor": page[-1]["id"] if len(jobs) > limit else None}


@router.get("/{run_id}", response_model=JobView)
def show(run_id: str, request: Request):
    """Status, plan, candidates with their per-check verdicts (``scores``), best, and file URLs."""
    return request.app.state.runs.view(run_id, _base(request))


@router.post("/{run_id}/cancel", response_model=JobView)
def cancel(run_id: str, request: Request):
    """Stop the run: at once if queued; at its next denoising step if running (it ends ``cancelled``, with its
    candidates kept)."""
    runs = request.app.state.runs
    runs.cancel(run_id)
    return runs.view(run_id, _base(request))


@router.post("/{run_id}/messages", response_model=Accepted, status_code=202)
def message(run_id: str, body: Message, request: Request):
    """A chat turn for a run waiting for one (``interactive``): it is queued and goes on from there."""
    layout = [b.model_dump() for b in body.layout] if body.layout is not None else None
    job = request.app.state.runs.message(run_id, body.text, layout, body.mask, body.candidate)
    return {"id": job["id"], "status": job["status"], "events": f"{_base(request)}/v1/runs/{run_id}/events"}


@router.get("/{run_id}/events", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def events(run_id: str, request: Request, after: int = Query(0, ge=0)):
    """Server-Sent Events: queued, started, node, plan, step, candidate, decision, notice, cancelled, waiting,
    ended. Each has an ``id``; reconnect with ``Last-Event-ID`` (or ``?after=``) to get only what followed. The
    stream ends after ``ended``; a client that goes away stops only its stream, never the run."""
    runs = request.app.state.runs
    runs.job(run_id)
    header = request.headers.get("last-event-id", "")
    last = int(header) if header.isdigit() else after

    async def stream():
        nonlocal last
        yield "retry: 1000\n\n"
        async for job in runs.watch(run_id):  # read before the events: ``ended`` is logged before the record
            for e in runs.jobs.events(run_id, last):
                last = e["id"]
                yield f"id: {e['id']}\nevent: {e['event']}\ndata: {json.dumps(e)}\n\n"
            if job["status"] in ENDED or await request.is_disconnected():
                return

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
