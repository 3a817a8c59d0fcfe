"""A cap on requests in flight: past it, a request is answered at once with 503 and Retry-After
instead of queueing behind the others (a caller can back off; a queue would only grow)."""

from __future__ import annotations

import json

import anyio
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
    """Request bodies under /v1 are capped in size and in the time they take to arrive.

    Size (ingest excepted: it streams to disk under its own cap): a declared Content-Length over the cap is
    refused before reading; a chunked body is counted as it arrives and refused as soon as it passes the cap
    (413). Time: from the first read, the whole body must arrive within `timeout` seconds (`exempt` paths
    have their own), else 408: a client trickling a byte at a time cannot hold a request open."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout: float, exempt: dict[str, float] | None = None) -> None:
        self.app, self.max_bytes, self.timeout = app, max_bytes, timeout
        self.exempt = exempt if exempt is not None else {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        exempt = next((t for prefix, t in self.exempt.items() if path.startswith(prefix)), None)
        cap = None if exempt is not None else self.max_bytes
        timeout, setting = (
            (exempt, "LAKEHOUSE_INGEST_BODY_TIMEOUT_SECONDS")
            if exempt is not None
            else (self.timeout, "LAKEHOUSE_API_BODY_TIMEOUT_SECONDS")
        )
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if cap is not None and declared is not None and declared.isdigit() and int(declared) > cap:
            await _json_response(send, 413, "too_large", f"the request body is over {cap} bytes")
            return
        seen = 0
        deadline: float | None = None
        done = False

        async def bounded() -> Message:
            nonlocal seen, deadline, done
            if done:  # the body is in: later reads wait for a disconnect, which takes as long as it takes
                return await receive()
            now = anyio.current_time()
            deadline = deadline if deadline is not None else now + timeout
            try:
                with anyio.fail_after(max(0.0, deadline - now)):
                    message = await receive()
            except TimeoutError:
                raise HTTPException(408, f"the request body did not arrive within {timeout:g} s ({setting})") from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if cap is not None and seen > cap:
                    raise HTTPException(413, f"the request body is over {cap} bytes")
                done = not message.get("more_body", False)
            return message

        await self.app(scope, bounded, send)


async def _json_response(
    send: Send, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> None:
    await send_json(send, status, {"error": code, "message": message}, headers)


async def send_json(send: Send, status: int, payload: object, headers: dict[str, str] | None = None) -> None:
    """A whole JSON response from a middleware (which answers before the app's error handlers could)."""
    body = json.dumps(payload).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
