"""A live ``limner serve`` on loopback for tests: started as a user starts it (a subprocess), stopped or killed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def service_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("LIMNER_") and not k.startswith("LIMNER_TEST_")) and not k.startswith("OPENAI_")}
    env.update(LIMNER_HOME=str(home), HF_HUB_OFFLINE="1")  # the real defaults: shapes-tiny, shapes-clip
    return env


class LiveService:
    def __init__(self, out: Path, home: Path, *args: str, port: int | None = None):
        self.out, self.home, self.args = out, home, list(args)
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = out.parent / f"serve-{self.port}.log"

    def start(self, timeout: float = 60.0, key: str | None = None) -> "LiveService":
        cmd = [sys.executable, "-m", "limner.agent.cli", "serve", "--port", str(self.port), "--out", str(self.out),
               *self.args]
        self.proc = subprocess.Popen(cmd, env=service_env(self.home), stdout=self.log.open("ab"),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"limner serve exited {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"limner serve did not come up: {self.log.read_text()[-2000:]}")

    def client(self, **kw) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=kw.pop("timeout", 120), **kw)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def tracebacks(self) -> int:
        return self.log.read_text(errors="replace").count("Traceback") if self.log.is_file() else 0


def sse(client: httpx.Client, path: str, headers: dict | None = None, on_event=None) -> list[dict]:
    """Every event of a Server-Sent Events stream until it ends: ``[{"id", "event", "data"}]``."""
    import json

    out, current = [], {}
    with client.stream("GET", path, headers=headers or {}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if not line:
                if "data" in current:
                    out.append(current)
                    if on_event is not None:
                        on_event(current)
                current = {}
                continue
            field, _, value = line.partition(":")
            value = value.lstrip()
            if field == "id":
                current["id"] = int(value)
            elif field == "event":
                current["event"] = value
            elif field == "data":
                current["data"] = json.loads(value)
    return out
