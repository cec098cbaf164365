"""A real HTTP server on 127.0.0.1 that speaks OpenAI's chat-completions protocol with scripted answers (the tests'
and the reliability bench's stand-in for an LLM or VLM endpoint).

Each request takes the next scripted reply: ``Reply(content=...)``, ``Reply(status=500)``,
``Reply(delay=2.0, content=...)``, ``Reply(refusal="...")``. Requests are kept for assertions.
An exhausted script answers 500 with a message saying so, so a test that calls too often fails.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    content: str | None = None
    status: int = 200
    delay: float = 0.0
    refusal: str | None = None
    error: str = "scripted error"
    top_logprobs: list[tuple[str, float]] | None = None  # first token's alternatives, e.g. [("Yes", -0.1)]


class ScriptedOpenAI:
    def __init__(self):
        self.replies: list[Reply] = []
        self.responder = None  # optional: body -> Reply, for answers that depend on the request, not its turn
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with server._lock:
                    server.requests.append(body)
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                    if server.responder is not None:
                        reply = server.responder(body)
                    elif server.replies:
                        reply = server.replies.pop(0)
                    else:
                        reply = Reply(status=500, error="script exhausted")
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.status != 200:
                    payload = {"error": {"message": reply.error, "type": "invalid_request_error"}}
                else:
                    payload = {
                        "id": "chatcmpl-scripted", "object": "chat.completion", "created": 0,
                        "model": body.get("model", "scripted"),
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": reply.content,
                                                 "refusal": reply.refusal},
                                     "logprobs": None if reply.top_logprobs is None else {"content": [{
                                         "token": reply.top_logprobs[0][0], "logprob": reply.top_logprobs[0][1],
                                         "bytes": None,
                                         "top_logprobs": [{"token": t, "logprob": lp, "bytes": None}
                                                          for t, lp in reply.top_logprobs]}]}}],
                        "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
                    }
                data = json.dumps(payload).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def script(self, *replies: Reply) -> "ScriptedOpenAI":
        self.replies.extend(replies)
        return self

    def __enter__(self) -> "ScriptedOpenAI":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
