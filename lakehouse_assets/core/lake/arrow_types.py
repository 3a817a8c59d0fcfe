"""Arrow schemas <-> catalog schemas. Catalog types are the SQL names DuckDB shows for the columns."""

from __future__ import annotations

import pyarrow as pa

from lakehouse_assets.core.lake.manifest import Column

_SIMPLE: dict[pa.DataType, str] = {
    pa.bool_(): "BOOLEAN",
    pa.int8(): "TINYINT",
    pa.int16(): "SMALLINT",
    pa.int32(): "INTEGER",
    pa.int64(): "BIGINT",
    pa.uint8(): "UTINYINT",
    pa.uint16(): "USMALLINT",
    pa.uint32(): "UINTEGER",
    pa.uint64(): "UBIGINT",
    pa.float32(): "FLOAT",
    pa.float64(): "DOUBLE",
    pa.string(): "VARCHAR",
    pa.large_string(): "VARCHAR",
    pa.string_view(): "VARCHAR",
    pa.binary(): "BLOB",
    pa.large_binary(): "BLOB",
    pa.date32(): "DATE",
}

_TO_ARROW: dict[str, pa.DataType] = {
    "BOOLEAN": pa.bool_(),
    "BIGINT": pa.int64(),
    "DOUBLE": pa.float64(),
    "VARCHAR": pa.string(),
    "DATE": pa.date32(),
    "TIMESTAMP": pa.timestamp("us"),
}


def sql_type(t: pa.DataType) -> str:
    if t in _SIMPLE:
        return _SIMPLE[t]
    if pa.types.is_timestamp(t):
        return "TIMESTAMP WITH TIME ZONE" if t.tz else "TIMESTAMP"
    if pa.types.is_decimal(t):
        return f"DECIMAL({t.precision},{t.scale})"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"{sql_type(t.value_type)}[]"
    return str(t).upper()


def columns_of(schema: pa.Schema) -> tuple[Column, ...]:
    return tuple(Column(f.name, sql_type(f.type)) for f in schema)


def arrow_type(sql: str) -> pa.DataType:
    """The Arrow type a CSV column of catalog type `sql` is converted to."""
    try:
        return _TO_ARROW[sql]
    except KeyError:
        raise ValueError(f"CSV columns cannot hold type {sql}") from None


def one_chunk(table: pa.Table) -> pa.Table:
    """`table` with each column in one chunk, for repeated `take`s: on a chunked table every `take` first
    joins all its chunks (DuckDB hands results over a chunk per row group of 122,880 rows; at 500,000
    documents a 50-row take costs 18 ms, against 0.1 ms on one chunk). Strings become large strings, so
    text past 2 GiB still fits one chunk."""
    columns = [c.cast(pa.large_string()) if pa.types.is_string(c.type) else c for c in table.columns]
    return pa.table(columns, names=table.column_names).combine_chunks()
