"""ASGI middleware that records every /v1 call as an observer op (route template, method, status,
latency), sampled at `observer_sample_rate`. The op is handed to the observer's background writer, so
the request never waits for the journal."""

from __future__ import annotations

import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lakehouse_assets.core.observer import Op

SKIPPED_PREFIXES = ("/v1/observer",)
_PARAM = re.compile(r"\\\{([^}:]+)(?::path)?\\\}")


def route_templates(app: Any) -> list[tuple[re.Pattern[str], str]]:
    """(pattern, template) for every documented path of the app, e.g. /v1/datasets/{name}; built once.

    Taken from the app's OpenAPI paths, which are the full templates however routers are nested."""
    cached = getattr(app.state, "route_templates", None)
    if cached is None:
        cached = []
        for template in app.openapi()["paths"]:
            pattern = _PARAM.sub(lambda m: "(.+)" if ":path" in m.group(0) else "([^/]+)", re.escape(template))
            cached.append((re.compile(f"^{pattern}$"), template))
        cached.sort(key=lambda pt: pt[1].count("{"))  # literal paths win over templated ones
        app.state.route_templates = cached
    return cached


def endpoint_of(app: Any, path: str) -> str:
    return next((template for pattern, template in route_templates(app) if pattern.match(path)), path)


class ObserverMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/v1/") or path.startswith(SKIPPED_PREFIXES):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            self._record(scope, status, (time.perf_counter() - started) * 1000)

    @staticmethod
    def _record(scope: Scope, status: int, latency_ms: float) -> None:
        services: Any = getattr(getattr(scope.get("app"), "state", None), "services", None)
        observer = getattr(services, "observer", None)
        if observer is None or not observer.sampled():
            return
        app, path, method = scope["app"], scope.get("path", ""), scope.get("method")

        def build() -> Op:  # runs on the observer's writer thread, not on the request path
            ok = status < 400
            return Op(
                endpoint=endpoint_of(app, path),
                source="api",
                ok=ok,
                latency_ms=round(latency_ms, 3),
                error=None if ok else f"HTTP {status}",
                method=method,
                status=status,
            )

        observer.record_async(build)
