"""Fake LLM servers on loopback that speak the real wire protocols: Ollama's `/api/chat` and OpenAI's
`/chat/completions`. The production provider code talks to them over HTTP.

A test scripts the next replies (content, an error status, a Retry-After, a delay) and reads back
every request the server received, so it can check what was actually sent upstream.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer. `content` makes a normal completion; `status` >= 400 makes an error."""

    content: str | None = None
    status: int = 200
    error: str = "scripted failure"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    finish_reason: str = "stop"
    raw_body: str | None = None  # sent as-is (for malformed replies)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.body.get("messages", [])


def _words(text: str) -> int:
    return len(text.split())


class FakeLLMServer:
    """Serves `protocol` ("ollama" or "openai") on 127.0.0.1 at a free port."""

    def __init__(
        self,
        protocol: str,
        *,
        api_key: str | None = None,
        base_path: str = "",
        models: set[str] | None = None,
        responder: Callable[[Received], str] | None = None,
    ) -> None:
        assert protocol in ("ollama", "openai")
        self.protocol, self.api_key, self.base_path, self.models = protocol, api_key, base_path.rstrip("/"), models
        self.responder = responder or (lambda received: "OK")
        self.script: deque[Reply] = deque()
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server._get(self)

            def do_POST(self) -> None:
                server._post(self)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        # shutdown() waits for the serve loop's next poll: at the default 0.5 s, four servers per test
        # spent up to 2 s of every teardown waiting.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.02,), name=f"fake-{protocol}", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}{self.base_path}"

    def start(self) -> FakeLLMServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def then(self, *replies: Reply) -> FakeLLMServer:
        with self._lock:
            self.script.extend(replies)
        return self

    # -- wire ------------------------------------------------------------------------------

    def _send(self, h: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = (body if isinstance(body, str) else json.dumps(body)).encode("utf-8")
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)

    def _error_body(self, status: int, message: str) -> dict[str, Any]:
        if self.protocol == "ollama":
            return {"error": message}
        kind = "rate_limit_exceeded" if status == 429 else "invalid_request_error" if status < 500 else "server_error"
        return {"error": {"message": message, "type": kind, "code": status}}

    def _get(self, h: BaseHTTPRequestHandler) -> None:
        if self.protocol == "ollama" and h.path == "/api/version":
            self._send(h, 200, {"version": "0.12.0"})
        elif self.protocol == "ollama" and h.path == "/api/tags":
            self._send(h, 200, {"models": [{"name": m, "model": m} for m in sorted(self.models or ())]})
        elif self.protocol == "openai" and h.path == f"{self.base_path}/models":
            self._send(
                h, 200, {"object": "list", "data": [{"id": m, "object": "model"} for m in sorted(self.models or ())]}
            )
        else:
            self._send(h, 404, self._error_body(404, f"no route {h.path}"))

    def _post(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._send(h, 400, self._error_body(400, "invalid JSON body"))
            return
        received = Received(h.path, {k.lower(): v for k, v in h.headers.items()}, body)
        with self._lock:
            self.requests.append(received)
            reply = self.script.popleft() if self.script else Reply()
        chat_path = "/api/chat" if self.protocol == "ollama" else f"{self.base_path}/chat/completions"
        if h.path != chat_path:
            self._send(h, 404, self._error_body(404, f"no route {h.path}"))
            return
        if self.api_key is not None and received.headers.get("authorization") != f"Bearer {self.api_key}":
            self._send(h, 401, self._error_body(401, "invalid or missing API key"))
            return
        if reply.delay:
            time.sleep(reply.delay)
        if reply.raw_body is not None:
            self._send(h, reply.status, reply.raw_body, reply.headers)
            return
        if reply.status >= 400:
            self._send(h, reply.status, self._error_body(reply.status, reply.error), reply.headers)
            return
        model = body.get("model", "")
        if self.models is not None and model not in self.models:
            message = f'model "{model}" not found, try pulling it first'
            self._send(h, 404, self._error_body(404, message))
            return
        content = reply.content if reply.content is not None else self.responder(received)
        prompt_tokens = sum(_words(str(m.get("content", ""))) for m in received.messages)
        completion_tokens = _words(content)
        if self.protocol == "ollama":
            out = {
                "model": model,
                "created_at": "2026-11-21T10:00:00.000000Z",
                "message": {"role": "assistant", "content": content},
                "done": True,
                "done_reason": reply.finish_reason,
                "total_duration": 1_000_000,
                "load_duration": 1_000,
                "prompt_eval_count": prompt_tokens,
                "prompt_eval_duration": 1_000,
                "eval_count": completion_tokens,
                "eval_duration": 1_000,
            }
        else:
            out = {
                "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": reply.finish_reason,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            }
        self._send(h, reply.status, out, reply.headers)
