"""Derived tables: SQL over catalog datasets, run by DuckDB, written as Parquet and registered in the
catalog like any dataset (so they are queryable through /v1/sql and versioned the same way)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse_assets.core.lake.arrow_types import columns_of
from lakehouse_assets.core.lake.catalog import DERIVED_SOURCE
from lakehouse_assets.core.lake.duck import quote_ident, quote_literal
from lakehouse_assets.core.lake.handle import Lake
from lakehouse_assets.core.lake.register import IngestResult, register_parquet

WORKERS_BY_ROLE_SQL = """
SELECT role, state,
       count(*) AS workers,
       round(avg(hourly_rate), 2) AS avg_hourly_rate,
       round(avg(years_experience), 1) AS avg_years_experience
FROM workers
GROUP BY role, state
ORDER BY role, state
"""


def build_derived_table(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    sql: str,
    inputs: Sequence[str],
    *,
    lake: Lake,
) -> IngestResult:
    """Run `sql` (which reads the datasets named in `inputs`) and register its result as `name`."""
    for dataset in inputs:
        lake.mount_live(conn, dataset)
    staged = lake.scratch() / f"derived-{uuid.uuid4().hex}.parquet"
    try:
        conn.execute(f"COPY ({sql}) TO {quote_literal(str(staged))} (FORMAT parquet, COMPRESSION snappy)")
        schema = columns_of(pq.read_schema(staged))
        rows = pq.read_metadata(staged).num_rows
        return register_parquet(staged, name, schema, rows, lake=lake, source=DERIVED_SOURCE)
    finally:
        staged.unlink(missing_ok=True)


def register_table(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    table: object,
    *,
    lake: Lake,
) -> IngestResult:
    """Register an in-memory Arrow table as dataset `name` (through the same Parquet path as SQL tables)."""
    conn.register("__input", table)
    try:
        return build_derived_table(conn, name, "SELECT * FROM __input", [], lake=lake)
    finally:
        conn.unregister("__input")


def replace_day(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    day: str,
    table: object,
    *,
    order_by: Sequence[str],
    lake: Lake,
    day_column: str = "day",
) -> IngestResult:
    """Make `table` the rows of `day` in dataset `name` (which has a `day` column), keeping every other
    day's rows; the dataset is created on first use. Rows are written in `order_by` order, so the same
    input gives the same Parquet bytes and re-running a day registers no new version."""
    date.fromisoformat(day)
    order = ", ".join(quote_ident(c) for c in (day_column, *order_by))
    conn.register("__day", table)
    try:
        lake.catalog.refresh()
        if lake.catalog.find(name) is None:
            sql, inputs = f"SELECT * FROM __day ORDER BY {order}", []
        else:
            sql = (
                f"SELECT * FROM (SELECT * FROM {quote_ident(name)} WHERE {quote_ident(day_column)} <> "
                f"{quote_literal(day)} UNION ALL BY NAME SELECT * FROM __day) ORDER BY {order}"
            )
            inputs = [name]
        return build_derived_table(conn, name, sql, inputs, lake=lake)
    finally:
        conn.unregister("__day")


def read_day(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    day: str,
    *,
    order_by: Sequence[str],
    lake: Lake,
    day_column: str = "day",
) -> pa.Table | None:
    """`day`'s rows of dataset `name`, in `order_by` order; None if the dataset does not exist."""
    date.fromisoformat(day)
    if lake.mount_if_exists(conn, name) is None:
        return None
    order = ", ".join(quote_ident(c) for c in order_by)
    sql = f"SELECT * FROM {quote_ident(name)} WHERE {quote_ident(day_column)} = ? ORDER BY {order}"
    return conn.sql(sql, params=[day]).to_arrow_table()
