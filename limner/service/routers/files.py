"""A run's files (candidates, final image, report, manifest), served from its folder and nowhere else."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from limner.service.runs import RequestError

router = APIRouter(prefix="/v1/runs", tags=["runs"])

SERVED = {".png", ".html", ".json", ".jsonl", ".jpg", ".jpeg", ".webp"}


@router.get("/{run_id}/files/{path:path}")
def run_file(run_id: str, path: str, request: Request):
    """A file of the run's folder; a path that leaves it (``..``, a symlink out) or names its checkpoint is a 404."""
    runs = request.app.state.runs
    runs.job(run_id)  # 404 for a run this server does not know
    root = (runs.out / run_id).resolve()
    try:
        target = (root / path).resolve()
    except (OSError, ValueError, RuntimeError):
        target = None
    if target is None or not target.is_relative_to(root) or not target.is_file() or target.suffix not in SERVED:
        raise RequestError(404, f"run '{run_id}' has no file '{path}'", "not_found", "path")
    return FileResponse(target)
