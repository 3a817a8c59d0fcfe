"""Making catalog datasets visible to a DuckDB connection, whichever backend holds the lake.

A local lake is read in place with read_parquet (DuckDB prunes row groups and columns itself); an S3
lake through a pyarrow dataset over pyarrow's S3 filesystem, which works with any DuckDB build
(the httpfs extension cannot be downloaded everywhere).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import duckdb
import pyarrow.dataset as pads

from lakehouse_assets.core.lake.storage import LakeStorage

ParquetSource = str | pads.Dataset


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def parquet_source(lake: LakeStorage, keys: str | Sequence[str]) -> ParquetSource:
    """A `read_parquet(...)` expression over local objects, else a pyarrow dataset over them: one key, or
    the data files of one version (an Iceberg snapshot may hold several)."""
    keys = [keys] if isinstance(keys, str) else list(keys)
    paths = [lake.local_path(key) for key in keys]
    if all(path is not None for path in paths):
        literals = [quote_literal(str(path)) for path in paths]
        return f"read_parquet({literals[0] if len(literals) == 1 else '[' + ', '.join(literals) + ']'})"
    located = [lake.arrow_location(key) for key in keys]
    locations = [location for _, location in located]
    return pads.dataset(locations[0] if len(locations) == 1 else locations, filesystem=located[0][0], format="parquet")


def mount(conn: duckdb.DuckDBPyConnection | Any, view: str, source: ParquetSource) -> None:
    """Expose `source` as `view` on `conn` (a SQL view, or a registered Arrow object)."""
    if isinstance(source, str):
        conn.execute(f"CREATE OR REPLACE VIEW {quote_ident(view)} AS SELECT * FROM {source}")
    else:
        conn.register(view, source)


_scratch: duckdb.DuckDBPyConnection | None = None
_scratch_lock = threading.Lock()


def scratch_cursor() -> duckdb.DuckDBPyConnection:
    """A cursor on one in-memory database shared by the process, for small SQL over Arrow tables on a request
    path: opening a new database costs ~20 ms, a cursor on an open one microseconds. What a cursor
    registers is its own (close it when done)."""
    global _scratch
    with _scratch_lock:
        if _scratch is None:
            _scratch = duckdb.connect()
        return _scratch.cursor()
