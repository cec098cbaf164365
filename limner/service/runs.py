"""The service's runs: a request checked and queued as a job, a job run by the agent, a job shown as JSON.

Every API (OpenAI Images, A1111, the job API, MCP) comes through ``Runs``: ``submit`` checks a request and
queues it (a bad one is a ``RequestError``: the 4xx it answers), ``execute`` is what the worker thread does with
a job, ``view`` is what ``GET /v1/runs/{id}`` shows.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import time
from pathlib import Path

from limner.agent.errors import UsageError
from limner.service.config import ServiceConfig
from limner.service.jobs import RESTING, JobStore, Worker


class RequestError(Exception):
    """A request the service refuses: ``status`` (4xx), a message that says how to fix it, OpenAI's ``code``."""

    def __init__(self, status: int, message: str, code: str | None = None, param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param


class Runs:
    def __init__(self, config: ServiceConfig):
        from limner.agent.config import load_settings

        self.config = config
        self.out = config.out.expanduser().resolve()
        self.out.mkdir(parents=True, exist_ok=True)
        self.uploads = config.service_dir.expanduser().resolve() / "uploads"
        self.jobs = JobStore(config.service_dir.expanduser().resolve())
        settings = load_settings()
        over = {k: v for k, v in {"device": config.device, "dtype": config.dtype}.items() if v}
        self.settings = settings.model_copy(update=over) if over else settings
        self.worker = Worker(self.jobs, self.execute)

    def start(self) -> None:
        from limner.tools.generators import diffusers_backend

        diffusers_backend.configure_cache(max_models=self.config.max_models, offload=self.config.offload)
        self.jobs.recover(self.out)
        self.worker.start()

    def stop(self) -> None:
        self.worker.stop()

    # --- checking a request -----------------------------------------------------------------------------
    def model_names(self) -> list[str]:
        from limner.tools.generators import MODELS

        names = list(MODELS)
        if self.config.model and self.config.model not in names:
            names.insert(0, self.config.model)
        return names

    def check_model(self, name: str | None) -> str | None:
        """The model a request gets: the server's for none (or OpenAI's ``dall-e-*``/``gpt-image-*`` names a
        client sends by default), a registered alias, never a path or hub id from a request."""
        if name is None or name in {"limner", ""} or name.startswith(("dall-e", "gpt-image")):
            return self.config.model
        if name not in self.model_names():
            raise RequestError(404, f"model '{name}' is not served here: GET /v1/models lists the ones that are",
                               "model_not_found", "model")
        return name

    def check_policy(self, name: str | None) -> str:
        from limner import policies as shipped

        if name is None:
            return self.config.policy
        if name not in shipped.names():
            raise RequestError(400, f"policy '{name}' is not a shipped policy ({', '.join(shipped.names())}); "
                               "a request cannot name a policy file", "invalid_policy", "policy")
        return name

    def check_size(self, width: int | None, height: int | None) -> None:
        top = self.config.limits.max_side
        for what, v in (("width", width), ("height", height)):
            if v is not None and v > top:
                raise RequestError(400, f"{what} {v} is larger than this server allows ({top})", "size_too_large",
                                   what)

    def brief_fields(self, req) -> dict:
        """A ``RunRequest``'s brief fields, its limits checked (exceeding one is a 400, never a silent clamp)."""
        limits = self.config.limits
        if len(req.prompt) > limits.max_prompt_chars:
            raise RequestError(400, f"the prompt is {len(req.prompt)} characters; at most {limits.max_prompt_chars}",
                               "prompt_too_long", "prompt")
        self.check_size(req.width, req.height)
        b = req.budgets
        for what, v, top in (("budgets.max_rounds", b.max_rounds, limits.max_rounds),
                             ("budgets.candidates", b.candidates, limits.max_candidates),
                             ("steps", req.steps, limits.max_steps)):
            if v is not None and v > top:
                raise RequestError(400, f"{what} {v} is more than this server allows ({top})", "limit", what)
        return {"prompt": req.prompt, "negative_prompt": req.negative_prompt, "model": self.check_model(req.model),
                "policy": self.check_policy(req.policy), "seed": req.seed, "width": req.width, "height": req.height,
                "steps": req.steps, "guidance": req.guidance, "max_rounds": b.max_rounds,
                "candidates": b.candidates, "threshold": b.threshold, "box": req.box}

    def want_images(self, fields: dict, n: int) -> dict:
        """``fields`` for a request that wants ``n`` images back: rounds of at least ``n`` candidates."""
        from limner.agent.policy import load_policy

        if n > 1:
            per_round = fields.get("candidates") or load_policy(fields["policy"]).candidates_per_round
            fields = {**fields, "images": n, "candidates": max(n, per_round)}
        return fields

    def save_upload(self, job_id: str, data: bytes | str, what: str, as_mask: bool = False) -> str:
        """Decode an uploaded image (base64 text or bytes) with Pillow's bomb guard and this server's pixel limit,
        and save it as PNG in the job's upload folder. A mask with transparent pixels marks them as the area to
        edit (OpenAI's convention); otherwise white marks it."""
        import warnings

        from PIL import Image, UnidentifiedImageError

        if isinstance(data, str):
            text = data.split(",", 1)[1] if data.startswith("data:") else data
            try:
                data = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                raise RequestError(400, f"{what} is not base64", "invalid_image", what) from None
        limit = self.config.limits.max_upload_pixels
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(data)) as im:
                    w, h = im.size
                    if w * h > limit:
                        raise RequestError(400, f"{what} is {w}x{h}: at most {limit} pixels", "image_too_large", what)
                    im.load()
                    if as_mask and (im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info):
                        alpha = im.convert("RGBA").getchannel("A")
                        if alpha.getextrema()[0] < 255:  # some pixel is transparent: those are the area to edit
                            im = alpha.point(lambda v: 255 if v == 0 else 0)
                    img = im.convert("L" if as_mask else "RGB")
        except RequestError:
            raise
        except (OSError, ValueError, UnidentifiedImageError, SyntaxError, EOFError, Image.DecompressionBombError,
                Image.DecompressionBombWarning) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise RequestError(400, f"{what} is not a readable image: {reason}", "invalid_image", what) from None
        folder = self.uploads / job_id
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{what}.png"
        img.save(path)
        return str(path)

    def submit(self, fields: dict, interactive: bool = False, image=None, mask=None, kind: str = "runs") -> dict:
        """Check a brief as ``limner run`` would (everything ``runner.prepare`` checks) and queue it."""
        from limner.agent._run.store import new_run_id
        from limner.agent.runner import make_brief, prepare

        job_id = new_run_id()
        fields = {k: v for k, v in fields.items() if v is not None}
        try:
            if image is not None:
                fields["image"] = self.save_upload(job_id, image, "image")
            if mask is not None:
                fields["mask"] = self.save_upload(job_id, mask, "mask", as_mask=True)
            prepare(make_brief(**fields), self.settings)
        except UsageError as exc:
            self._drop_upload(job_id)
            raise RequestError(400, str(exc), "invalid_request") from None
        except RequestError:
            self._drop_upload(job_id)
            raise
        return self.jobs.create(job_id, {**fields, "api": kind}, interactive=interactive)

    async def queue(self, fields: dict, interactive: bool = False, image=None, mask=None, kind: str = "runs") -> dict:
        """``submit`` from a request handler: its checks and file writes run off the event loop."""
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(self.submit, fields, interactive, image, mask, kind)

    def _drop_upload(self, job_id: str) -> None:
        import shutil

        shutil.rmtree(self.uploads / job_id, ignore_errors=True)

    # --- running a job (on the worker thread) ---------------------------------------------------------
    def execute(self, job: dict, on_event, cancelled) -> dict:
        """Run the job's next step; a run that failed for want of accelerator memory is retried once, from its
        checkpoint, with every other pipeline evicted and model offload on; a second failure names the options."""
        result = self._step(job, on_event, cancelled)
        if result["status"] != "failed" or not out_of_memory(result.get("stop_reason")):
            return result
        from limner.tools.generators import diffusers_backend

        before = diffusers_backend.describe_cache()["offload"]
        diffusers_backend._evict(0)
        diffusers_backend.configure_cache(offload=before or "model", keep_limit=True)
        on_event({"event": "notice", "text": "out of memory: freed the loaded models, retrying once with "
                                             f"offload={before or 'model'}"})
        try:
            again = self._step({**job, "next": {"kind": "resume"}}, on_event, cancelled)
        finally:
            diffusers_backend.configure_cache(offload=before, keep_limit=True)
        if again["status"] == "failed" and out_of_memory(again.get("stop_reason")):
            again["stop_reason"] = (f"{again['stop_reason']}; out of memory again after freeing the loaded models "
                                    "with model offload: start the server with --offload sequential or "
                                    "--dtype float16, or ask for a smaller size")
        return again

    def _step(self, job: dict, on_event, cancelled) -> dict:
        from limner.agent import runner

        nxt = job["next"]
        brief = {k: v for k, v in job["request"].items() if k != "api"}
        if nxt["kind"] == "start":
            result = runner.run(out=self.out, run_id=job["id"], on_event=on_event, settings=self.settings,
                                interactive=job.get("interactive", False), cancel=cancelled, **brief)
        elif nxt["kind"] == "resume":
            result = runner.resume(job["id"], within=self.out, on_event=on_event, settings=self.settings,
                                   cancel=cancelled)
        elif nxt["kind"] == "answer":
            result = runner.answer(job["id"], nxt["text"], within=self.out, on_event=on_event,
                                   settings=self.settings, cancel=cancelled, layout=nxt.get("layout"),
                                   mask=nxt.get("mask"), candidate=nxt.get("candidate"))
        else:
            raise ValueError(f"unknown job step {nxt['kind']!r}")
        return result.model_dump(mode="json", exclude={"candidates"})

    # --- reading and steering jobs (HTTP side) --------------------------------------------------------
    def job(self, job_id: str) -> dict:
        from limner.agent._run.store import valid_run_id

        job = self.jobs.get(job_id) if valid_run_id(job_id) else None
        if job is None:
            raise RequestError(404, f"no run '{job_id}' on this server", "not_found", "id")
        return job

    def view(self, job_id: str, base: str = "") -> dict:
        job = self.job(job_id)
        result = job.get("result") or {}
        manifest = {}
        path = self.out / job_id / "manifest.json"
        if path.is_file():
            import json

            try:
                manifest = json.loads(path.read_text())
            except ValueError:  # being written: the record's status still says where it is
                manifest = {}
        files = {}
        for name, rel in (("final", "final.png"), ("report", "report.html"), ("manifest", "manifest.json"),
                          ("contact_sheet", "contact.png"), ("layout", "layout.png")):
            if (self.out / job_id / rel).is_file():
                files[name] = f"{base}/v1/runs/{job_id}/files/{rel}"
        candidates = [{**c, "url": f"{base}/v1/runs/{job_id}/files/{c['path']}"} for c in manifest.get("candidates", [])
                      if c.get("path")]
        return {"id": job_id, "status": job["status"], "created": job["created"], "started": job["started"],
                "finished": job["finished"], "request": job["request"], "error": job.get("error"),
                "stop_reason": result.get("stop_reason") or manifest.get("stop_reason"), "plan": manifest.get("plan"),
                "candidates": candidates, "best": manifest.get("best"), "question": result.get("question"),
                "files": files}

    def cancel(self, job_id: str) -> dict:
        with self.jobs.lock:
            job = self.job(job_id)
            if job["status"] in RESTING:
                if job["status"] == "waiting":  # a chat between turns: it ends here
                    self.jobs.append(job_id, {"event": "ended", "status": "cancelled",
                                              "stop_reason": "cancelled while waiting for a message"})
                    job = self.jobs.update(job_id, status="cancelled", finished=time.time(), cancel=True)
                return job
            if job["status"] == "queued":
                self.jobs.append(job_id, {"event": "ended", "status": "cancelled",
                                          "stop_reason": "cancelled before it started"})
                return self.jobs.update(job_id, status="cancelled", finished=time.time(), cancel=True,
                                        next={"kind": "none"})
            return self.jobs.update(job_id, cancel=True)  # running: it stops at its next denoising step

    def message(self, job_id: str, text: str, layout: list[dict] | None = None, mask: str | None = None,
                candidate: str | None = None) -> dict:
        """Queue a chat turn: the words, and what the person drew (the plan's boxes as moved; a brush mask on a
        candidate, saved into the run folder as ``masks/turn-<n>.png``)."""
        import shutil

        from PIL import Image

        from limner.agent._run.store import valid_run_id

        with self.jobs.lock:
            job = self.job(job_id)
            if job["status"] != "waiting":
                raise RequestError(409, f"run '{job_id}' is {job['status']}, not waiting for a message",
                                   "not_waiting")
        if candidate is not None and not (valid_run_id(job_id) and (self.out / job_id / "candidates" /
                                                                    f"{candidate}.png").is_file()):
            raise RequestError(400, f"run '{job_id}' has no candidate '{candidate}'", "invalid_candidate", "candidate")
        saved = None
        if mask is not None:
            upload = Path(self.save_upload(job_id, mask, "mask", as_mask=True))
            shown = next(iter(sorted((self.out / job_id / "candidates").glob("*.png"))), None)
            if shown is None:
                raise RequestError(400, "a mask is painted on a candidate: this run has none yet", "invalid_mask",
                                   "mask")
            with Image.open(upload) as m, Image.open(shown) as c:
                if m.size != c.size:
                    raise RequestError(400, f"the mask is {m.size[0]}x{m.size[1]}, the images are "
                                            f"{c.size[0]}x{c.size[1]}: they must match", "invalid_mask", "mask")
                if not m.getbbox():
                    raise RequestError(400, "the mask is empty: paint the part to change", "invalid_mask", "mask")
            folder = self.out / job_id / "masks"
            folder.mkdir(exist_ok=True)
            saved = f"masks/turn-{len(list(folder.glob('turn-*.png'))) + 1}.png"
            shutil.copyfile(upload, self.out / job_id / saved)
        with self.jobs.lock:
            job = self.job(job_id)
            if job["status"] != "waiting":
                raise RequestError(409, f"run '{job_id}' is {job['status']}, not waiting for a message",
                                   "not_waiting")
            step = {"kind": "answer", "text": text, **({"layout": layout} if layout is not None else {}),
                    **({"mask": saved} if saved else {}), **({"candidate": candidate} if candidate else {})}
            job = self.jobs.update(job_id, status="queued", next=step)
            self.jobs.append(job_id, {"event": "message", "text": text, **({"mask": saved} if saved else {})})
            return job

    async def wait(self, job_id: str) -> dict:
        """The job once it rests (ended, or waiting for a message)."""
        async for job in self.watch(job_id, events=False):
            if job["status"] in RESTING:
                return job

    async def watch(self, job_id: str, events: bool = True, idle: float = 1.0):
        """The job's record now, then again after each change of it (its record, and with ``events`` its event
        log), or after ``idle`` seconds without one: the record on disk is the truth; the store's signal only
        says when to read it again."""
        loop = asyncio.get_running_loop()
        changed = asyncio.Event()

        def poke(kind: str):
            if events or kind == "record":
                loop.call_soon_threadsafe(changed.set)

        with self.jobs.lock:
            self.jobs.listeners.setdefault(job_id, set()).add(poke)
        try:
            while True:
                changed.clear()  # before reading: a change from here on wakes the wait below
                yield self.job(job_id)
                try:
                    await asyncio.wait_for(changed.wait(), idle)
                except asyncio.TimeoutError:
                    pass
        finally:
            with self.jobs.lock:
                left = self.jobs.listeners.get(job_id, set())
                left.discard(poke)
                if not left:
                    self.jobs.listeners.pop(job_id, None)

    def images_of(self, job: dict, n: int) -> list[dict]:
        """The ``n`` best candidates of a finished job (best first): ``[{"id", "path", "score"}]``."""
        import json

        path = self.out / job["id"] / "manifest.json"
        if not path.is_file():
            return []
        m = json.loads(path.read_text())
        best = (m.get("best") or {}).get("id")
        cands = [c for c in m.get("candidates", []) if c.get("path") and c.get("score") is not None]
        cands.sort(key=lambda c: (c["id"] != best, -c["score"], c["id"]))
        return [{"id": c["id"], "path": str(self.out / job["id"] / c["path"]), "score": c["score"]}
                for c in cands[:n]]


def out_of_memory(reason: str | None) -> bool:
    return bool(reason) and ("OutOfMemory" in reason or "out of memory" in reason.lower())


def png_b64(path: str | Path) -> str:
    return base64.b64encode(Path(path).read_bytes()).decode("ascii")


__all__ = ["RequestError", "Runs", "png_b64"]
