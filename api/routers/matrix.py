from __future__ import annotations

from fastapi import APIRouter

from api.deps import MatrixDep, PlaybooksDep
from api.routing import Route
from api.schemas.errors import ErrorBody
from api.schemas.matrix import (
    MatrixSearchRequest,
    MatrixSearchResponse,
    PlaybookBulkIn,
    PlaybookIn,
    PlaybookRecordResponse,
)
from lakehouse_assets.core.memory.playbooks import PlaybookRecord
from lakehouse_assets.core.retrieval.results import SearchRequest

router = APIRouter(prefix="/matrix", tags=["matrix"], route_class=Route)


@router.post("/search", responses={400: {"model": ErrorBody}, 502: {"model": ErrorBody}})
def matrix_search(body: MatrixSearchRequest, matrix: MatrixDep) -> MatrixSearchResponse:
    """Rank entities from several corpora for a text query, filtered, deduplicated and explained.

    Hits below the relevance floor are dropped (an empty list is a valid answer). With `use_playbook`,
    workers endorsed for similar past queries move up and rejected ones down, by at most 0.15.
    `downgrade` says whether a weak local model can act on this result, and why.
    """
    result = matrix.search(
        SearchRequest(
            query=body.query,
            corpora=body.corpora,
            k=body.k,
            filter=body.filter,
            exclude_ids=body.exclude_ids,
            min_score=body.min_score,
            use_playbook=body.use_playbook,
            model=body.model,
            parse=body.parse,
            parse_only=body.parse_only,
            pad=body.pad,
            mode=body.mode,
            llm_parse=body.llm_parse,
        )
    )
    # Read straight off the result's dataclasses: asdict() deep-copies every hit first (2 ms a search at 10 hits).
    return MatrixSearchResponse.model_validate(result, from_attributes=True)


@router.post("/playbooks/record", status_code=201, responses={400: {"model": ErrorBody}})
def record(body: PlaybookIn | PlaybookBulkIn, playbooks: PlaybooksDep) -> PlaybookRecordResponse:
    """Record which workers were endorsed (and rejected) for a query, and the outcome: one record, or
    `{"records": [...]}`. Journaled durably and searchable at once for `use_playbook` (from any API worker);
    the `playbooks` index takes their vectors just after."""
    items = body.records if isinstance(body, PlaybookBulkIn) else [body]
    records = [
        PlaybookRecord(
            query=i.query,
            endorsed_ids=tuple(str(x) for x in i.endorsed_ids),
            rejected_ids=tuple(str(x) for x in i.rejected_ids),
            outcome=i.outcome,
            contract_id=i.contract_id,
        )
        for i in items
    ]
    indexed = playbooks.record(records)
    return PlaybookRecordResponse(recorded=len(records), playbook_ids=[r.playbook_id for r in records], indexed=indexed)
