from __future__ import annotations

from fastapi import APIRouter

from api.deps import SettingsDep, SqlDep
from api.schemas.errors import ErrorBody
from api.schemas.sql import SqlRequest, SqlResponse
from lakehouse_assets.core.sql import SqlError

router = APIRouter(prefix="/sql", tags=["sql"])


@router.post("", responses={400: {"model": ErrorBody}})
def run_sql(body: SqlRequest, sql: SqlDep, settings: SettingsDep) -> SqlResponse:
    """Run one read-only query over the catalog's datasets (a view per dataset, `name__v<N>` per version)."""
    if body.limit is not None and body.limit > settings.sql_rows_ceiling:
        raise SqlError(f"limit {body.limit} is above the largest allowed, {settings.sql_rows_ceiling}")
    if body.timeout_ms is not None and body.timeout_ms > settings.sql_max_timeout_ms:
        raise SqlError(f"timeout_ms {body.timeout_ms} is above the largest allowed, {settings.sql_max_timeout_ms}")
    result = sql.query(body.sql, limit=body.limit, timeout_ms=body.timeout_ms)
    return SqlResponse(
        columns=result.columns,
        rows=result.rows,
        row_count=result.row_count,
        truncated=result.truncated,
        elapsed_ms=result.elapsed_ms,
    )
