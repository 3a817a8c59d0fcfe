from __future__ import annotations

from fastapi import APIRouter

from api.deps import CatalogDep, LakeDep

router = APIRouter(tags=["health"])


@router.get("/health")
def health(lake: LakeDep, catalog: CatalogDep) -> dict:
    """Liveness and what the service is serving (always open, no auth)."""
    return {"status": "ok", "lake": lake.describe(), "datasets": len(catalog.list())}
