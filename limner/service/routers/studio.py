"""The studio: a page for creative sessions (``/``) and its two assets. It is static, holds no data and no
secret, and uses only the public job API, so it is served without the API key (the page asks for the key and
sends it with every API call)."""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from limner.service.runs import RequestError

router = APIRouter(tags=["studio"], include_in_schema=False)

ASSETS = {"studio.js": "text/javascript; charset=utf-8", "studio.css": "text/css; charset=utf-8"}


def _read(name: str) -> str:
    return (files("limner.service") / "studio" / name).read_text(encoding="utf-8")


@router.get("/", response_class=HTMLResponse)
def page():
    return HTMLResponse(_read("index.html"), headers={"Cache-Control": "no-cache"})


@router.get("/studio/{name}")
def asset(name: str):
    if name not in ASSETS:
        raise RequestError(404, f"the studio has no file '{name}'", "not_found", "name")
    return Response(_read(name), media_type=ASSETS[name], headers={"Cache-Control": "no-cache"})
