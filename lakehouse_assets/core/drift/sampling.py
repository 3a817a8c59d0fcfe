"""What is scored: all rows of a relation, or above a size a seeded reservoir sample, the same every time."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import duckdb
import pyarrow as pa

from lakehouse_assets.core.lake.duck import quote_ident

SEED = 42  # every sample is drawn with this seed, so re-scoring a day gives the same numbers


@contextmanager
def _single_thread(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """DuckDB's seeded sampling repeats only on one thread."""
    threads = conn.sql("SELECT current_setting('threads')").fetchall()[0][0]
    conn.execute("SET threads = 1")
    try:
        yield
    finally:
        conn.execute(f"SET threads = {int(threads)}")


def sample_rows(
    conn: duckdb.DuckDBPyConnection,
    relation: str,
    columns: Sequence[str],
    max_rows: int,
    *,
    where: str = "",
    params: Sequence[Any] = (),
) -> pa.Table:
    """`columns` of `relation` (a view name), all rows or, above `max_rows`, a seeded reservoir sample of
    them: the same data always gives the same sample."""
    cols = ", ".join(quote_ident(c) for c in columns)
    source = f"SELECT {cols} FROM {quote_ident(relation)}" + (f" WHERE {where}" if where else "")
    total = conn.sql(f"SELECT count(*) FROM ({source})", params=list(params)).fetchall()[0][0]
    if total <= max_rows:
        return conn.sql(source, params=list(params)).to_arrow_table()
    with _single_thread(conn):
        return conn.sql(
            f"SELECT * FROM ({source}) USING SAMPLE reservoir({int(max_rows)} ROWS) REPEATABLE ({SEED})",
            params=list(params),
        ).to_arrow_table()
