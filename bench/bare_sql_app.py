"""The least a FastAPI service can do to answer SQL over HTTP: one sync route, one DuckDB view over the
Parquet file named by BARE_SQL_PARQUET, rows back as JSON. No sandbox, limits, auth or observer.

The scale benchmark runs it under uvicorn next to the lakehouse API, so the SQL stage can show how
much of our cost over in-process DuckDB any FastAPI service pays for HTTP, and how much is ours:

    BARE_SQL_PARQUET=path.parquet uvicorn bench.bare_sql_app:app --port N
"""

from __future__ import annotations

import json
import os

import duckdb
from fastapi import FastAPI, Response
from pydantic import BaseModel

app = FastAPI()
_db = duckdb.connect()
_db.execute(f"CREATE VIEW workers AS SELECT * FROM read_parquet('{os.environ['BARE_SQL_PARQUET']}')")


class Query(BaseModel):
    sql: str


@app.post("/v1/sql")
def run_sql(query: Query) -> Response:
    cursor = _db.cursor()
    try:
        rows = cursor.execute(query.sql).fetchall()
    finally:
        cursor.close()
    return Response(json.dumps({"rows": rows}, default=str), media_type="application/json")
