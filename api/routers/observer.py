from __future__ import annotations

from fastapi import APIRouter

from api.deps import ObserverDep
from api.routing import Route
from api.schemas.errors import ErrorBody
from api.schemas.observer import ObserverStatsOut, OpIn, OpOut
from lakehouse_assets.core.memory.observer import Op

router = APIRouter(prefix="/observer", tags=["memory"], route_class=Route)


@router.post("/event", status_code=201, responses={400: {"model": ErrorBody}})
def record_event(body: OpIn, observer: ObserverDep) -> OpOut:
    """Record an operation (an MCP tool call, a scenario step, an overseer correction). It is journaled
    before it is acknowledged; the ring keeps the latest ops, evicting the oldest."""
    op = Op.from_json(body.model_dump(exclude_none=True))
    return OpOut(**observer.record(op).to_json())


@router.get("/stats")
def observer_stats(observer: ObserverDep) -> ObserverStatsOut:
    """Counts by source, error rate and latency percentiles by endpoint over the ring, the last scenario ops."""
    return ObserverStatsOut(**observer.stats())
