"""A cap on requests in flight: past it, a request is answered at once with 503 and Retry-After
instead of queueing behind the others (a caller can back off; a queue would only grow)."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ConcurrencyLimit:
    def __init__(self, app: ASGIApp, max_in_flight: int, retry_after: int = 1) -> None:
        self.app, self.max_in_flight, self.retry_after = app, max_in_flight, retry_after
        self.in_flight = 0
        self.rejected = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.max_in_flight <= 0 or not scope.get("path", "").startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            self.rejected += 1
            message = f"{self.in_flight} requests in flight, the limit is {self.max_in_flight}: retry shortly"
            await _json_response(send, 503, "overloaded", message, {"Retry-After": str(self.retry_after)})
            return
        self.in_flight += 1  # the event loop is one thread: no lock needed
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


class BodyLimit:
    """Request bodies under /v1 are capped (ingest excepted: it streams to disk under its own cap).
    A declared Content-Length over the cap is refused before reading; a chunked body is counted as it
    arrives and refused as soon as it passes the cap. Either way: 413, JSON, nothing processed."""

    def __init__(self, app: ASGIApp, max_bytes: int, exempt: tuple[str, ...] = ("/v1/ingest",)) -> None:
        self.app, self.max_bytes, self.exempt = app, max_bytes, exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/v1/") or path.startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _json_response(send, 413, "too_large", f"the request body is over {self.max_bytes} bytes")
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise HTTPException(413, f"the request body is over {self.max_bytes} bytes")
            return message

        await self.app(scope, counted, send)


async def _json_response(
    send: Send, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> None:
    body = json.dumps({"error": code, "message": message}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
