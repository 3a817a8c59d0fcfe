"""Derived tables: SQL over catalog datasets, run by DuckDB, written as Parquet and registered in the
catalog like any dataset (so they are queryable through /v1/sql and versioned the same way)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from lakehouse_assets.core.arrow_types import columns_of
from lakehouse_assets.core.catalog import Catalog
from lakehouse_assets.core.duck import mount, parquet_source, quote_literal
from lakehouse_assets.core.ingest import IngestResult, register_parquet
from lakehouse_assets.core.storage import LakeStorage

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
    lake: LakeStorage,
    catalog: Catalog,
    scratch_dir: Path,
) -> IngestResult:
    """Run `sql` (which reads the datasets named in `inputs`) and register its result as `name`."""
    catalog.refresh()
    for dataset in inputs:
        mount(conn, dataset, parquet_source(lake, catalog.get(dataset).object_key))
    scratch_dir.mkdir(parents=True, exist_ok=True)
    staged = scratch_dir / f"derived-{uuid.uuid4().hex}.parquet"
    try:
        conn.execute(f"COPY ({sql}) TO {quote_literal(str(staged))} (FORMAT parquet, COMPRESSION snappy)")
        schema = columns_of(pq.read_schema(staged))
        rows = pq.read_metadata(staged).num_rows
        return register_parquet(staged, name, schema, rows, lake=lake, catalog=catalog, source="derived")
    finally:
        staged.unlink(missing_ok=True)


def register_table(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    table: object,
    *,
    lake: LakeStorage,
    catalog: Catalog,
    scratch_dir: Path,
) -> IngestResult:
    """Register an in-memory Arrow table as dataset `name` (through the same Parquet path as SQL tables)."""
    conn.register("__input", table)
    try:
        return build_derived_table(
            conn, name, "SELECT * FROM __input", [], lake=lake, catalog=catalog, scratch_dir=scratch_dir
        )
    finally:
        conn.unregister("__input")
