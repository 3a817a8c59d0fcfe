"""The score datasets: their names, deterministic samples of what is scored, writing a day's rows (re-scoring
a day replaces them) and reading them back, and the Markdown the UI shows."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import duckdb
import pyarrow as pa

from lakehouse_assets.core.drift.daily import PLAYBOOK_DRIFT_SCHEMA, SCORER_DRIFT_SCHEMA
from lakehouse_assets.core.drift.datasets import DATASET_DRIFT_SCHEMA
from lakehouse_assets.core.drift.embeddings import EMBEDDING_DRIFT_SCHEMA
from lakehouse_assets.core.drift.names import DATASET_DRIFT, EMBEDDING_DRIFT, PLAYBOOK_DRIFT, SCORER_DRIFT
from lakehouse_assets.core.lake.derived import replace_day
from lakehouse_assets.core.lake.duck import quote_ident
from lakehouse_assets.core.lake.handle import Lake
from lakehouse_assets.core.lake.register import IngestResult


def _nan_to_none(row: dict[str, Any]) -> dict[str, Any]:
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}


SCORE_TABLES: dict[str, tuple[pa.Schema, tuple[str, ...]]] = {
    DATASET_DRIFT: (DATASET_DRIFT_SCHEMA, ("dataset", "column_name")),
    EMBEDDING_DRIFT: (EMBEDDING_DRIFT_SCHEMA, ("corpus",)),
    SCORER_DRIFT: (SCORER_DRIFT_SCHEMA, ()),
    PLAYBOOK_DRIFT: (PLAYBOOK_DRIFT_SCHEMA, ()),
}


def write_scores(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    day: str,
    rows: Sequence[Mapping[str, Any]],
    *,
    lake: Lake,
) -> IngestResult:
    """Make `rows` the rows of `day` in score dataset `name` (one of SCORE_TABLES), NaN stored as null;
    the same rows give the same Parquet bytes, so re-scoring a day registers no new version."""
    schema, order_by = SCORE_TABLES[name]
    table = pa.Table.from_pylist([_nan_to_none(dict(r)) for r in rows], schema=schema)
    return replace_day(conn, name, day, table, order_by=order_by, lake=lake)


def stored_day(conn: duckdb.DuckDBPyConnection, name: str, day: str, *, lake: Lake) -> list[dict[str, Any]]:
    """The rows of `day` in the stored score dataset `name` (none if it does not exist yet)."""
    date.fromisoformat(day)
    if lake.mount_if_exists(conn, name) is None:
        return []
    return conn.sql(f"SELECT * FROM {quote_ident(name)} WHERE day = ?", params=[day]).to_arrow_table().to_pylist()
