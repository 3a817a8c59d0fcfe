"""A query's Arrow result written out as it streams: Arrow IPC (the stream format), CSV or NDJSON, one
record batch at a time, so a client of pandas, Polars or DuckDB reads columns without JSON in between."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from enum import StrEnum

import pyarrow as pa
import pyarrow.csv as pacsv

from lakehouse_assets.core.sql.engine import ArrowResult, json_value


class ResultFormat(StrEnum):
    """The media types a result can be sent as (JSON is the engine's own `QueryResult`)."""

    JSON = "application/json"
    ARROW = "application/vnd.apache.arrow.stream"
    CSV = "text/csv"
    NDJSON = "application/x-ndjson"


class _Chunks:
    """A write-only file that hands over what was written since it was last asked."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def arrow_ipc(result: ArrowResult) -> Iterator[bytes]:
    """The Arrow IPC stream: the schema, then each batch as it is written, then the end-of-stream marker."""
    chunks = _Chunks()
    with pa.ipc.new_stream(pa.PythonFile(chunks, mode="w"), result.schema) as writer:
        yield chunks.take()
        for batch in result.batches:
            writer.write_batch(batch)
            yield chunks.take()
    yield chunks.take()


def csv_rows(result: ArrowResult) -> Iterator[bytes]:
    """RFC 4180 CSV with a header line (written by Arrow's CSV writer, values quoted where needed)."""
    header = True
    for batch in result.batches or [pa.RecordBatch.from_pylist([], schema=result.schema)]:
        sink = pa.BufferOutputStream()
        pacsv.write_csv(batch, sink, pacsv.WriteOptions(include_header=header, quoting_style="needed"))
        header = False
        yield sink.getvalue().to_pybytes()


def ndjson_rows(result: ArrowResult) -> Iterator[bytes]:
    """One JSON object per row and line, values as the JSON response has them (dates ISO, NaN null)."""
    names = result.schema.names
    dumps: Callable[[object], str] = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    for batch in result.batches:
        columns = [[json_value(v) for v in column.to_pylist()] for column in batch.columns]
        lines = (dumps(dict(zip(names, row, strict=True))) for row in zip(*columns, strict=True))
        yield ("\n".join(lines) + "\n").encode()


WRITERS: dict[ResultFormat, Callable[[ArrowResult], Iterator[bytes]]] = {
    ResultFormat.ARROW: arrow_ipc,
    ResultFormat.CSV: csv_rows,
    ResultFormat.NDJSON: ndjson_rows,
}
