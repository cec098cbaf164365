"""Where a model's weights are, and what they say they are: ``model_index.json`` and component configs.

A hub id is read from the local Hugging Face cache first (never a download when it is there); when it is
not there and the hub may be used (``HF_HUB_OFFLINE`` unset), one quick request fetches ``model_index.json``.
Every failure is ``WeightsMissing`` with one line naming the fix (``limner pull``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

QUICK_TIMEOUT_S = 5.0  # one attempt at the hub for a model's index, then a clear line instead of retries


class ModelUnavailable(RuntimeError):
    """The model's weights cannot be loaded here (missing offline, or not a pipeline)."""


class WeightsMissing(ValueError):
    """The weights (or their index) cannot be had here: one line, naming the command that fetches them."""


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def hub_unreachable(timeout: float = QUICK_TIMEOUT_S) -> str | None:
    """One quick TCP connection to the hub (``HF_ENDPOINT``): why it failed, or None when it answers.

    The hub client retries a failing connection for about 25 s; this is the single attempt Limner makes
    before saying in one line that the weights cannot be had."""
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "", port), timeout=timeout):
            return None
    except OSError as exc:
        return f"cannot reach {url.scheme}://{url.netloc} ({exc.strerror or type(exc).__name__})"


@dataclass
class ModelIndex:
    source: str
    index: dict  # model_index.json
    folder: Path | None  # the folder the files are in (a local folder, or the cache snapshot), if local
    revision: str | None  # the hub snapshot (commit hash), for hub ids

    def config(self, component: str) -> dict:
        """A component's config.json, when it is on disk (``{}`` otherwise)."""
        if self.folder is None:
            return {}
        path = self.folder / component / "config.json"
        if not path.is_file():
            return {}
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return {}

    @property
    def class_name(self) -> str:
        return str(self.index.get("_class_name", ""))


def _read_json(path: Path, source: str) -> dict:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise WeightsMissing(f"cannot read {path} of '{source}': {exc}") from None
    if not isinstance(data, dict):
        raise WeightsMissing(f"{path} of '{source}' is not a model index")
    return data


def cached_snapshot(repo_id: str, revision: str | None = None) -> tuple[Path, str] | None:
    """The cache snapshot folder holding ``repo_id``'s ``model_index.json`` and its commit hash, if cached."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, "model_index.json", revision=revision)
    if not isinstance(found, str):
        return None
    folder = Path(found).parent
    return folder, folder.name


def cached_index(repo_id: str, revision: str | None = None) -> ModelIndex | None:
    """A hub model's index from the local cache, or None when it is not cached (never a request)."""
    snap = cached_snapshot(repo_id, revision)
    if snap is None:
        return None
    return ModelIndex(repo_id, _read_json(snap[0] / "model_index.json", repo_id), snap[0], snap[1])


def read_index(source: str, revision: str | None = None) -> ModelIndex:
    """The model index of a local folder or hub id, from disk or with one quick request."""
    path = Path(source).expanduser()
    if path.is_dir():
        index = path / "model_index.json"
        if not index.is_file():
            raise WeightsMissing(f"'{source}' is a folder but not a diffusers model (no model_index.json)")
        return ModelIndex(str(path.resolve()), _read_json(index, source), path.resolve(), None)
    cached = cached_index(source, revision)
    if cached is not None:
        return cached
    pull = f"run `limner pull {source}` once online, or pass a local folder"
    if offline():
        raise WeightsMissing(f"'{source}' is not in the local Hugging Face cache and HF_HUB_OFFLINE=1: {pull}")
    unreachable = hub_unreachable()
    if unreachable:
        raise WeightsMissing(f"'{source}' is not in the local Hugging Face cache and the hub is out of reach: "
                             f"{unreachable}; {pull}")
    from huggingface_hub import hf_hub_download

    try:
        found = hf_hub_download(source, "model_index.json", revision=revision, etag_timeout=QUICK_TIMEOUT_S)
    except Exception as exc:  # connection, 404, gated repo: all end in the same one line
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise WeightsMissing(f"'{source}' is not in the local Hugging Face cache and the hub did not give its "
                             f"model_index.json ({type(exc).__name__}: {reason}): {pull}") from None
    folder = Path(found).parent
    return ModelIndex(source, _read_json(Path(found), source), folder, folder.name if "snapshots" in folder.parts else None)
