"""ASGI middleware that records every routed /v1 call as an observer op (route template, method, status,
latency), sampled at `observer_sample_rate`. The op is handed to the observer's background writer, so
the request never waits for the journal. It runs inside the gate (only authorized calls reach it) and
records a call by the template of the route that served it: a path no route serves is not recorded at all,
so a caller cannot write what it likes into the journal by the paths it asks for."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lakehouse_assets.core.memory.observer import Op

SKIPPED_PREFIXES = ("/v1/observer",)
_PARAM = re.compile(r"\\\{([^}:]+)(?::path)?\\\}")


def route_templates(routers: Iterable[tuple[str, APIRouter]]) -> list[tuple[re.Pattern[str], str]]:
    """(pattern, template) for every route of `routers` included at their prefixes, e.g. /v1/datasets/{name}.

    Read from the routers themselves: asking the app for its OpenAPI paths instead costs about 0.3 s of
    schema generation per app, which the first recorded op waited for."""
    templates: dict[str, re.Pattern[str]] = {}  # one per path, however many methods it serves
    for prefix, router in routers:
        for route in router.routes:
            if hasattr(route, "path_format"):  # a route with a path (not a mount or an included router)
                path = prefix + route.path
                pattern = _PARAM.sub(lambda m: "(.+)" if ":path" in m.group(0) else "([^/]+)", re.escape(path))
                templates.setdefault(prefix + route.path_format, re.compile(f"^{pattern}$"))
    ordered = sorted(templates.items(), key=lambda tp: tp[0].count("{"))  # literal paths win over templated ones
    return [(pattern, template) for template, pattern in ordered]


def endpoint_of(app: Any, path: str) -> str | None:
    """The route template `path` was served by (create_app keeps the app's in app.state); None when no route
    serves it."""
    templates = getattr(app.state, "route_templates", [])
    return next((template for pattern, template in templates if pattern.match(path)), None)


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

        def build() -> Op | None:  # runs on the observer's writer thread, not on the request path
            endpoint = endpoint_of(app, path)
            if endpoint is None:
                return None
            ok = status < 400
            return Op(
                endpoint=endpoint,
                source="api",
                ok=ok,
                latency_ms=round(latency_ms, 3),
                error=None if ok else f"HTTP {status}",
                method=(method or "")[:16] or None,
                status=status,
            )

        observer.record_async(build)
