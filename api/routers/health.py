from __future__ import annotations

import os

from fastapi import APIRouter

from api.deps import CatalogDep, LakeDep, MatrixDep

router = APIRouter(tags=["health"])


@router.get("/health")
def health(lake: LakeDep, catalog: CatalogDep, matrix: MatrixDep) -> dict:
    """Liveness and what the service is serving (always open, no auth). `search_frames` says, per corpus
    searched so far, how many entities its facet frame holds and how many of their vectors are in memory
    for exact constrained ranking (while they load, constrained searches use the index's own filter). `process`
    is the worker process that answered (the API may run several; each holds its own frames)."""
    frames = matrix.frames.status() if matrix.frames is not None else {}
    return {
        "status": "ok",
        "lake": lake.describe(),
        "datasets": len(catalog.list()),
        "search_frames": frames,
        "process": os.getpid(),
    }
