from __future__ import annotations

import json

from fastapi import APIRouter, Response

from api.deps import SqlDep
from api.routing import Route
from api.schemas.errors import ErrorBody
from api.schemas.sql import SqlRequest, SqlResponse
from api.slots import slot

router = APIRouter(prefix="/sql", tags=["sql"], route_class=Route)


@router.post("", response_model=SqlResponse, responses={400: {"model": ErrorBody}}, dependencies=[slot("SQL queries")])
def run_sql(body: SqlRequest, sql: SqlDep) -> Response:
    """Run one read-only query over the catalog's datasets (a view per dataset, `name__v<N>` per version)."""
    result = sql.query(body.sql, limit=body.limit, timeout_ms=body.timeout_ms)
    # Rows are already JSON-safe: serialize once instead of re-validating every cell through the model
    # (vars, not dataclasses.asdict, which would deep-copy every row and cell first).
    return Response(content=json.dumps(vars(result), separators=(",", ":")), media_type="application/json")
