from __future__ import annotations

import os
from typing import Any

import anyio
from fastapi import APIRouter, Request

from api.deps import LakeDep, MatrixDep
from api.routing import Route

router = APIRouter(tags=["health"], route_class=Route)
# its own threads: details still answer while every thread of the shared pool is held by slow requests
_DETAILS = anyio.CapacityLimiter(2)


@router.get("/health")
async def health(request: Request, lake: LakeDep, matrix: MatrixDep) -> dict[str, Any]:
    """Whether the service is up: open to anyone, and answered on the event loop, so a thread pool busy with
    slow requests never makes it look down. An authorized caller (the token, or any local caller of an API
    without one) also learns what it serves: the lake, how many datasets, and per corpus searched so far how
    many entities its facet frame holds and how many of their vectors are in memory; `process` is the worker
    process that answered (the API may run several; each holds its own frames)."""
    if not getattr(request.state, "authorized", False):
        return {"status": "ok"}

    def details() -> dict[str, Any]:
        frames = matrix.frames.status() if matrix.frames is not None else {}
        return {"lake": lake.storage.describe(), "datasets": len(lake.catalog.list()), "search_frames": frames}

    return {"status": "ok", **(await anyio.to_thread.run_sync(details, limiter=_DETAILS)), "process": os.getpid()}
