"""Derived tables: SQL over catalog datasets, run by DuckDB, written as Parquet and registered in the
catalog like any dataset (so they are queryable through /v1/sql and versioned the same way)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse_assets.core.lake import partitions
from lakehouse_assets.core.lake.arrow_types import columns_of
from lakehouse_assets.core.lake.catalog import DERIVED_SOURCE, Column, SchemaConflict
from lakehouse_assets.core.lake.duck import quote_ident, quote_literal
from lakehouse_assets.core.lake.handle import Lake
from lakehouse_assets.core.lake.register import IngestResult, object_key_for, register_parquet, sha256_file

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
    day's rows; the dataset is created on first use. The dataset is partitioned by day: only the day's own
    file is written (core/lake/partitions.py). Rows are written in `order_by` order, so the same input gives
    the same Parquet bytes and re-running a day registers no new version."""
    date.fromisoformat(day)
    order = ", ".join(quote_ident(c) for c in order_by) or quote_ident(day_column)
    conn.register("__day", table)
    try:
        day_file, schema, preexisting = _store_day(conn, name, day, f"SELECT * FROM __day ORDER BY {order}", lake)
    finally:
        conn.unregister("__day")
    while True:
        layout = lake.catalog.day_layout(name, day_column, day)
        splits = _split_by_day(conn, name, layout.unsorted, day, day_column, order, lake)
        try:
            result = lake.catalog.replace_day(
                name, schema, column=day_column, day=day, files=[day_file, *splits], unsorted=layout.unsorted
            )
        except partitions.StaleLayout:
            continue  # another writer split the old files first: split what is there now
        except SchemaConflict:
            if not preexisting:  # referenced by nothing
                lake.storage.delete(day_file.key)
            raise
        lake.catalog.refresh()
        return IngestResult(result.manifest, created=result.created)


def _store_day(
    conn: duckdb.DuckDBPyConnection, name: str, day: str, sql: str, lake: Lake
) -> tuple[partitions.DayFile, tuple[Column, ...], bool]:
    """Write the rows `sql` selects (one day's) as Parquet under its content-addressed key: the file, its
    schema, and whether that object was there already."""
    staged = lake.scratch() / f"day-{uuid.uuid4().hex}.parquet"
    try:
        conn.execute(f"COPY ({sql}) TO {quote_literal(str(staged))} (FORMAT parquet, COMPRESSION snappy)")
        schema = columns_of(pq.read_schema(staged))
        key = object_key_for(name, sha256_file(staged))
        preexisting = lake.storage.exists(key)
        if not preexisting:
            lake.storage.put_file(key, staged)
    finally:
        staged.unlink(missing_ok=True)
    return partitions.DayFile(key, lake.storage.location(key), day), schema, preexisting


def _split_by_day(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    keys: tuple[str, ...],
    day: str,
    day_column: str,
    order: str,
    lake: Lake,
) -> list[partitions.DayFile]:
    """One file per day of the rows in `keys` (a table's files from before it was partitioned by day),
    leaving out `day`, which is being replaced."""
    if not keys:
        return []
    lake.mount(conn, "__unsorted", keys)
    try:
        column = quote_ident(day_column)
        days = [r[0] for r in conn.sql(f"SELECT DISTINCT {column} FROM __unsorted ORDER BY 1").fetchall()]
        return [
            _store_day(
                conn,
                name,
                str(d),
                f"SELECT * FROM __unsorted WHERE {column} = {quote_literal(str(d))} ORDER BY {order}",
                lake,
            )[0]
            for d in days
            if str(d) != day
        ]
    finally:
        conn.execute("DROP VIEW IF EXISTS __unsorted")


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
