"""Every LLM call logged to SQLite (``$LIMNER_HOME/logs.sqlite``): request, response, timing, errors.

Images are replaced by their sha256 and API keys are never part of what is logged.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path

from limner.agent._run.migrations import LLM_LOG, migrate



def redact_messages(messages: list[dict]) -> list[dict]:
    """Replace base64 image data with a short sha256 reference."""
    out = []
    for msg in messages:
        content = msg.get("content")
        if isinstance(content, list):
            parts = []
            for part in content:
                url = part.get("image_url", {}).get("url", "") if part.get("type") == "image_url" else ""
                if url.startswith("data:"):
                    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
                    part = {"type": "image_url", "image_url": {"url": f"<image sha256:{digest}>"}}
                parts.append(part)
            msg = {**msg, "content": parts}
        out.append(msg)
    return out


class CallLog:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._migrated = False

    def record(self, *, run_id, purpose, endpoint, model, messages, response, error, seconds, usage=None):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(self.path) as db:
            if not self._migrated:
                migrate(db, LLM_LOG)
                self._migrated = True
            db.execute(
                "INSERT INTO llm_calls (ts, run_id, purpose, endpoint, model, request, response, error, seconds,"
                " prompt_tokens, completion_tokens) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    time.time(), run_id, purpose, endpoint, model,
                    json.dumps(redact_messages(messages)), response, error, seconds,
                    getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None),
                ),
            )
