from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Response

from api.deps import PathwayDep
from api.links import TRACE_LINKS
from api.routing import Route
from api.schemas.errors import ErrorBody
from api.schemas.pathway import (
    AddTraceIn,
    HistoryOut,
    PathwayHit,
    PathwaySearchIn,
    PathwaySearchOut,
    PathwayStatsOut,
    TraceIn,
    TraceOut,
)

router = APIRouter(prefix="/pathway", tags=["memory"], route_class=Route)
_NOT_FOUND = {404: {"model": ErrorBody, "description": "No trace with that uid."}}
_RETIRED = {409: {"model": ErrorBody, "description": "The trace is retired."}}


@router.post(
    "/traces",
    status_code=201,
    responses={
        200: {"description": "Idempotent add of known content: a replay.", "links": TRACE_LINKS},
        201: {"description": "Stored.", "links": TRACE_LINKS},
    },
)
def add_trace(body: AddTraceIn, pathway: PathwayDep, response: Response) -> TraceOut:
    """Store a trace (201). With `idempotent`, content already stored returns that trace with its replay
    count incremented (200)."""
    trace, created = pathway.add(body.content, body.tags, idempotent=body.idempotent)
    if not created:
        response.status_code = 200
    return TraceOut(**trace)


@router.get("/traces/{uid}", responses=_NOT_FOUND)
def get_trace(uid: str, pathway: PathwayDep) -> TraceOut:
    """A trace, retired or not (a copy: nothing a caller does changes the stored one)."""
    return TraceOut(**pathway.get(uid))


@router.put("/traces/{uid}", responses={**_NOT_FOUND, **_RETIRED})
def update_trace(uid: str, body: TraceIn, pathway: PathwayDep) -> TraceOut:
    """Replace the content (same uid, version + 1); tags are kept unless given."""
    return TraceOut(**pathway.update(uid, body.content, body.tags))


@router.post(
    "/traces/{uid}/revise",
    status_code=201,
    responses={201: {"description": "The successor.", "links": TRACE_LINKS}, **_NOT_FOUND, **_RETIRED},
)
def revise_trace(uid: str, body: TraceIn, pathway: PathwayDep) -> TraceOut:
    """A new trace (new uid) whose predecessor is this one."""
    return TraceOut(**pathway.revise(uid, body.content, body.tags))


@router.post("/traces/{uid}/retire", responses=_NOT_FOUND)
def retire_trace(uid: str, pathway: PathwayDep) -> TraceOut:
    """Exclude the trace from search; get and history still return it."""
    return TraceOut(**pathway.retire(uid))


@router.get("/traces/{uid}/history", responses=_NOT_FOUND)
def trace_history(uid: str, pathway: PathwayDep) -> HistoryOut:
    """Walk the predecessors. A cycle or a missing predecessor ends the walk, marked in `end`."""
    return HistoryOut.model_validate(asdict(pathway.history(uid)))


@router.post("/search", responses={400: {"model": ErrorBody}})
def search_traces(body: PathwaySearchIn, pathway: PathwayDep) -> PathwaySearchOut:
    """Live traces with the tags and fields asked for, ranked by similarity to `text` if given."""
    hits = pathway.search(
        text=body.text, tags=body.tags, where=body.where, k=body.k, include_retired=body.include_retired
    )
    return PathwaySearchOut(hits=[PathwayHit(trace=TraceOut(**h.trace), score=h.score) for h in hits])


@router.get("/stats")
def pathway_stats(pathway: PathwayDep) -> PathwayStatsOut:
    return PathwayStatsOut(**asdict(pathway.summary()))
