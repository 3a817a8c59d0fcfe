from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Header, Response
from fastapi.responses import StreamingResponse

from api.deps import SqlDep
from api.negotiate import choose
from api.routing import Route
from api.schemas.errors import ErrorBody
from api.schemas.sql import SqlRequest, SqlResponse
from api.slots import slot
from lakehouse_assets.core.sql.formats import WRITERS, ResultFormat

router = APIRouter(prefix="/sql", tags=["sql"], route_class=Route)

OFFERED = tuple(ResultFormat)  # JSON first: the default
STREAMED = {
    ResultFormat.ARROW: {"schema": {"type": "string", "format": "binary"}},
    ResultFormat.CSV: {"schema": {"type": "string"}},
    ResultFormat.NDJSON: {"schema": {"type": "string"}},
}


@router.post(
    "",
    response_model=SqlResponse,
    responses={
        200: {"description": "The result: JSON by default, or as the Accept header asks.", "content": STREAMED},
        400: {"model": ErrorBody},
        406: {"model": ErrorBody},
    },
    dependencies=[slot("SQL queries")],
)
def run_sql(body: SqlRequest, sql: SqlDep, accept: Annotated[str | None, Header()] = None) -> Response:
    """Run one read-only query over the catalog's datasets (a view per dataset, `name__v<N>` per version).

    With `Accept: application/vnd.apache.arrow.stream`, `text/csv` or `application/x-ndjson` the rows stream
    in that format (the same sandbox and limits); the row count and whether the limit cut the result are in
    the `X-Lakehouse-Row-Count` and `X-Lakehouse-Truncated` headers."""
    media = ResultFormat(choose(accept, OFFERED))
    if media is ResultFormat.JSON:
        result = sql.query(body.sql, limit=body.limit, timeout_ms=body.timeout_ms)
        # Rows are already JSON-safe: serialize once instead of re-validating every cell through the model
        # (vars, not dataclasses.asdict, which would deep-copy every row and cell first).
        return Response(content=json.dumps(vars(result), separators=(",", ":")), media_type=media.value)
    arrow = sql.query_arrow(body.sql, limit=body.limit, timeout_ms=body.timeout_ms)
    headers = {
        "X-Lakehouse-Row-Count": str(arrow.row_count),
        "X-Lakehouse-Truncated": "true" if arrow.truncated else "false",
        "X-Lakehouse-Elapsed-Ms": str(arrow.elapsed_ms),
    }
    return StreamingResponse(WRITERS[media](arrow), media_type=media.value, headers=headers)
