"""CSV -> Parquet -> catalog. The only ingest code path: the `datasets` asset and `POST /v1/ingest`
both call `ingest_csv`.

The CSV is streamed in blocks (pyarrow's reader, RFC 4180 quoting and multi-line fields) into a
staged Parquet file, so memory stays bounded whatever the file size. An upload is read from its
Spool while it is still arriving, so parsing overlaps the transfer. Column types come from the
first block and are re-checked on every later one; a value that breaks a type widens the column and
the pass restarts, so the result never depends on where in the file a value sits. For a dataset
that already exists, the live schema is the target and data that cannot take it is a
SchemaConflict. Nothing live changes until the Parquet object is complete under its own
content-addressed key and the catalog accepts it.
"""

from __future__ import annotations

import csv
import io
import itertools
import queue
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from lakehouse_assets.core.ingest import csv_types
from lakehouse_assets.core.ingest.csv_errors import (
    line_of_record,
    locate_bad_utf8,
    locate_ragged_row,
    odd_quote_count,
    quote_error,
)
from lakehouse_assets.core.ingest.exceptions import BadCsv
from lakehouse_assets.core.ingest.spool import Spool, TooLarge
from lakehouse_assets.core.lake.arrow_types import arrow_type
from lakehouse_assets.core.lake.catalog import (
    ADDITIVE_ONLY,
    Column,
    Manifest,
    SchemaConflict,
    SchemaEvolution,
    refuse_owned,
    validate_dataset_name,
)
from lakehouse_assets.core.lake.handle import Lake
from lakehouse_assets.core.lake.register import IngestResult, register_parquet

# Small read blocks keep peak memory low (the reader prefetches several); batches are gathered into
# row groups of about ROW_GROUP_BYTES of Arrow data, a size bound that holds whatever the row width.
BLOCK_SIZE = 2 << 20
ROW_GROUP_BYTES = 16 << 20
CSV_TYPES = {
    csv_types.BIGINT,
    csv_types.DOUBLE,
    csv_types.BOOLEAN,
    csv_types.DATE,
    csv_types.TIMESTAMP,
    "VARCHAR",
}


@dataclass(frozen=True)
class IngestLimits:
    max_bytes: int = 1 << 30


def spool_stream(source: BinaryIO, scratch_dir: Path, max_bytes: int, chunk: int = 1 << 20) -> Spool:
    spool = Spool(scratch_dir, max_bytes)
    try:
        while data := source.read(chunk):
            spool.write(data)
    except BaseException:
        spool.discard()
        raise
    return spool.close()


class _CsvInput:
    """The CSV being converted: a file, or a Spool that may still be receiving it (read as it grows).

    The conversion streams `open()`; the error paths that re-read the file to name a line take
    `whole()`, which waits for the end of an upload still arriving."""

    def __init__(self, source: Path | Spool) -> None:
        self.spool = source if isinstance(source, Spool) else None
        self.path = source.path if isinstance(source, Spool) else source

    def open(self) -> str | BinaryIO:
        """What pyarrow reads: the path of a file, or a reader of the spool."""
        return self.spool.reader() if self.spool is not None else str(self.path)

    def head(self, size: int) -> bytes:
        if self.spool is None:
            with open(self.path, "rb") as f:
                return f.read(size)
        with self.spool.reader() as f:
            return f.read(size)

    def whole(self) -> Path:
        if self.spool is not None:
            self.spool.finished()
        return self.path


# -- reading the CSV ---------------------------------------------------------------------------

# Python's csv module refuses a field over 131,072 characters, which pyarrow's reader takes: the header and the
# error-path readers here must take whatever the conversion takes (an upload is bounded by its byte cap).
csv.field_size_limit(2**31 - 1)


def read_header(source: _CsvInput) -> list[str]:
    """The validated column names of the CSV."""
    head = source.head(1 << 20)
    if not head.strip():
        raise BadCsv("the file is empty", line=1)
    # Find the header record leniently, then insist that its own bytes are UTF-8 (bad bytes further
    # down are reported by the conversion, with their line).
    rows = csv.reader(io.StringIO(head.decode("utf-8-sig", errors="replace"), newline=""))
    next(rows)
    header_bytes = b"".join(head.splitlines(keepends=True)[: rows.line_num])
    try:
        text = header_bytes.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise BadCsv("the header is not valid UTF-8", line=header_bytes[: e.start].count(b"\n") + 1) from None
    rows = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip() for h in next(rows, [])]
    if not header:
        raise BadCsv("the first line is blank: it must be the header (the column names)", line=1)
    for i, h in enumerate(header, start=1):
        if not h:
            raise BadCsv(f"column {i} of the header has a blank name", line=1)
    seen: dict[str, tuple[int, str]] = {}  # SQL names are case-insensitive: `id` and `ID` collide
    for i, h in enumerate(header, start=1):
        if h.lower() in seen:
            first, name = seen[h.lower()]
            raise BadCsv(f"duplicate column name {h!r} (columns {first} and {i}; {name!r} came first)", line=1)
        seen[h.lower()] = (i, h)
    return header


def _open_reader(data: str | BinaryIO, header: list[str]) -> pacsv.CSVStreamingReader:
    return pacsv.open_csv(
        data,
        read_options=pacsv.ReadOptions(column_names=header, skip_rows=1, block_size=BLOCK_SIZE),
        parse_options=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=len(header) > 1),
        convert_options=pacsv.ConvertOptions(
            column_types={h: pa.string() for h in header},
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            check_utf8=True,
        ),
    )


def _batches(source: _CsvInput, header: list[str]) -> Iterator[pa.RecordBatch]:
    """String record batches of the data rows, with CSV faults turned into BadCsv."""
    data = source.open()
    try:
        yield from _open_reader(data, header)
    except pa.ArrowInvalid as e:
        text = str(e)
        path = source.whole()
        if "UTF8" in text or "UTF-8" in text:
            raise BadCsv("the file is not valid UTF-8", line=locate_bad_utf8(path)) from None
        if "Expected" in text and "columns" in text:
            line, got = locate_ragged_row(path, len(header))
            raise BadCsv(f"ragged row: expected {len(header)} fields, found {got}", line=line) from None
        if "Could not skip initial" in text:
            raise BadCsv("the file has a header but no data rows", line=2) from None
        if "quote" in text.lower() or "end of file" in text.lower():
            raise BadCsv(f"unterminated quoted field: {text}") from None
        raise BadCsv(f"unreadable CSV: {text}") from None
    finally:
        if not isinstance(data, str):
            data.close()


# -- CSV -> Parquet ------------------------------------------------------------------------------


@dataclass
class _Converted:
    path: Path
    schema: tuple[Column, ...]
    rows: int


@dataclass(frozen=True)
class _Misfit:
    column: str
    values: pa.Array  # the batch's values for that column
    first_record: int  # index of the batch's first data record


class _ParquetSink:
    """Writes row groups on a background thread so Parquet encoding overlaps CSV parsing (both release
    the GIL). The queue holds one table: memory stays bounded to a few row groups."""

    def __init__(self, dest: Path, schema: pa.Schema) -> None:
        self._writer = pq.ParquetWriter(dest, schema, compression="snappy")
        self._queue: queue.Queue[pa.Table | None] = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="parquet-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (table := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._writer.write_table(table, row_group_size=table.num_rows)
                except BaseException as e:
                    self._error = e

    def put(self, table: pa.Table) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(table)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._writer.close()
        if self._error is not None:
            raise self._error


def _write_parquet(
    batches: Iterator[pa.RecordBatch], header: list[str], types: dict[str, str], dest: Path
) -> int | _Misfit:
    """One pass: convert each batch to `types` and write it; stop at the first batch that does not fit."""
    schema = pa.schema([pa.field(h, arrow_type(types[h])) for h in header])
    rows = 0
    pending: list[pa.RecordBatch] = []
    pending_bytes = 0
    sink = _ParquetSink(dest, schema)
    try:
        for batch in batches:
            arrays = []
            for h, col in zip(header, batch.columns, strict=True):
                if not csv_types.fits(col, types[h]):
                    return _Misfit(h, col, rows)
                arrays.append(csv_types.convert(col, types[h]))
            pending.append(pa.RecordBatch.from_arrays(arrays, schema=schema))
            pending_bytes += pending[-1].nbytes
            rows += batch.num_rows
            if pending_bytes >= ROW_GROUP_BYTES:
                sink.put(pa.Table.from_batches(pending))
                pending, pending_bytes = [], 0
        if pending:
            sink.put(pa.Table.from_batches(pending))
    finally:
        sink.close()
    return rows


def csv_to_parquet(
    source: Path | Spool,
    dest: Path,
    *,
    live: Manifest | None = None,
    name: str = "",
    evolve: SchemaEvolution = SchemaEvolution.NONE,
) -> _Converted:
    """Convert the CSV (a file, or a Spool still receiving it) into Parquet at `dest`.

    With `live`, the columns must match the live schema and take its types, else SchemaConflict; with
    additive `evolve`, columns after the live ones are new columns with types of their own.
    An unclosed quote is found by the count of '"': the spool's own, once the upload ends, or a scan
    of a file beside the conversion.
    """
    csv_input = _CsvInput(source)
    header = read_header(csv_input)
    with ThreadPoolExecutor(1, thread_name_prefix="quote-scan") as pool:
        spool = csv_input.spool
        scan = pool.submit(odd_quote_count, csv_input.path) if spool is None else None

        def unclosed_quote() -> bool:
            return scan.result() if scan is not None else spool.finished().odd_quotes  # type: ignore[union-attr]

        try:
            converted = _convert(csv_input, header, dest, live, name, evolve)
        except (BadCsv, SchemaConflict):
            if unclosed_quote():  # an open quote explains whatever went wrong after it
                raise quote_error(csv_input.whole()) from None
            raise
        if unclosed_quote():
            raise quote_error(csv_input.whole())
        return converted


def _convert(
    source: _CsvInput, header: list[str], dest: Path, live: Manifest | None, name: str, evolve: SchemaEvolution
) -> _Converted:
    reader = _batches(source, header)
    try:
        first = next(reader, None)
        if first is None or first.num_rows == 0:
            raise BadCsv("the file has a header but no data rows", line=2)
        inferred = {h: csv_types.infer_type(h, col) for h, col in zip(header, first.columns, strict=True)}
        fixed: dict[str, str] = {}  # columns whose type the live schema decides
        if live is not None:
            live_names = [c.name for c in live.schema]
            extra = header[len(live_names) :]
            additive = evolve == SchemaEvolution.ADDITIVE
            if (
                header[: len(live_names)] != live_names
                or (extra and not additive)
                or any(c.type not in CSV_TYPES for c in live.schema)
            ):
                new = tuple(Column(h, inferred[h]) for h in header)
                raise SchemaConflict(name, live.schema, new, detail=ADDITIVE_ONLY if additive else "")
            fixed = {c.name: c.type for c in live.schema}
        types = {h: fixed.get(h, inferred[h]) for h in header}

        # The first pass goes on from the reader that supplied the sample (a second reader would parse
        # the file's first blocks again); a pass that widens a column starts over with a new one.
        batches: Iterator[pa.RecordBatch] = itertools.chain([first], reader)
        while True:
            result = _write_parquet(batches, header, types, dest)
            if not isinstance(result, _Misfit):
                return _Converted(dest, tuple(Column(h, types[h]) for h in header), result)
            reader.close()  # the pass stopped at a misfit: its reader is part-read
            column, wider = result.column, csv_types.widen(types[result.column], result.values)
            if column in fixed:
                index = csv_types.first_misfit(result.values, types[column]) or 0
                line = line_of_record(source.whole(), result.first_record + index, len(header))
                value = result.values[index].as_py()
                new_schema = tuple(Column(h, wider if h == column else types[h]) for h in header)
                detail = f"column {column!r} is {types[column]} but line {line} has {value!r}"
                raise SchemaConflict(name, live.schema, new_schema, detail=detail)
            types[column] = wider
            reader = batches = _batches(source, header)
    finally:
        reader.close()


def ingest_csv(
    source: BinaryIO | Path | Spool,
    name: str,
    *,
    lake: Lake,
    limits: IngestLimits,
    source_label: str = "api",
    evolve: SchemaEvolution = SchemaEvolution.NONE,
) -> IngestResult:
    """Stream a CSV into a content-addressed Parquet object and register it as dataset `name`.

    `source` is a file, a stream (spooled to scratch first), or a Spool that the caller may still be
    writing: then the conversion reads it as it arrives, and ends with UploadAborted if it is discarded.
    Raises InvalidDatasetName, BadCsv (with line number), TooLarge or SchemaConflict, each before
    anything live changes.
    """
    validate_dataset_name(name)
    live = lake.catalog.live(name)
    refuse_owned(name, live)
    scratch_dir = lake.scratch()
    owned = not isinstance(source, Path | Spool)  # a stream is spooled here, and deleted here
    csv_source: Path | Spool
    if isinstance(source, Path):
        if source.stat().st_size > limits.max_bytes:
            raise TooLarge(limits.max_bytes)
        csv_source = source
    else:
        csv_source = source if isinstance(source, Spool) else spool_stream(source, scratch_dir, limits.max_bytes)
    staged = scratch_dir / f"stage-{uuid.uuid4().hex}.parquet"
    try:
        converted = csv_to_parquet(csv_source, staged, live=live, name=name, evolve=evolve)
        return register_parquet(
            staged,
            name,
            converted.schema,
            converted.rows,
            lake=lake,
            source=source_label,
            evolve=evolve,
        )
    finally:
        staged.unlink(missing_ok=True)
        if owned:
            csv_source.path.unlink(missing_ok=True)
