"""Read-only SQL over the catalog's datasets, in a sandboxed in-memory DuckDB.

One view per dataset (its live version) and one per version (`<name>__v<N>`), re-synced when the
catalog changes. The sandbox is DuckDB's own: external access off except the lake's dataset
folder, configuration locked, no extension loading; on top, only a single SELECT-class statement is
accepted. Every query gets a time limit (interrupted by one watchdog thread) and a row limit (`truncated`).
The database is private to this process and never a file a writer shares.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import decimal
import json
import logging
import math
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from lakehouse_assets.core.errors import LakehouseError
from lakehouse_assets.core.lake.catalog import Catalog, Manifest
from lakehouse_assets.core.lake.duck import ParquetSource, mount, parquet_source, quote_ident, quote_literal
from lakehouse_assets.core.sql.watchdog import Watchdog

log = logging.getLogger(__name__)

# SELECT only: EXPLAIN ANALYZE would execute the statement it explains (a write, in the worst case).
_ALLOWED_STATEMENTS = {duckdb.StatementType.SELECT}
FETCH_CHUNK = 1024
FIRST_FETCH = 8  # rows fetched first; later fetches grow as the rows prove narrow
# Rows per Arrow batch read from DuckDB: about its vector size (fastest measured, 1M narrow rows: 55 ms against
# 106 ms at 64K), and small enough that the batch crossing the result cap holds little past it.
ARROW_BATCH_ROWS = 1024


class SqlError(LakehouseError, ValueError):
    """The query cannot run: a syntax or binder error, or a statement the sandbox refuses."""

    status = 400
    code = "sql_error"


class SqlRefused(SqlError):
    status = 400
    code = "sql_refused"


class SqlTimeout(SqlError):
    status = 400
    code = "sql_timeout"

    def fields(self) -> dict[str, Any]:
        return {"timeout_ms": self.timeout_ms}

    def __init__(self, timeout_ms: int) -> None:
        self.timeout_ms = timeout_ms
        super().__init__(f"query interrupted: it ran past the time limit of {timeout_ms} ms")


@dataclass(frozen=True)
class ArrowResult:
    """A query's rows as Arrow: what the Arrow, CSV and NDJSON responses serialize as they stream."""

    schema: pa.Schema
    columns: list[dict[str, str]]
    batches: list[pa.RecordBatch]
    row_count: int
    truncated: bool
    elapsed_ms: float


@dataclass(frozen=True)
class QueryResult:
    columns: list[dict[str, str]]
    rows: list[list[Any]]
    row_count: int
    truncated: bool
    elapsed_ms: float


def json_value(v: Any) -> Any:
    """A JSON-safe form of a DuckDB value (dates as ISO strings, NaN as null, bytes as base64)."""
    if v is None or isinstance(v, bool | int | str):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, dt.timedelta):
        return v.total_seconds()
    if isinstance(v, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(v)).decode("ascii")
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, list | tuple):
        return [json_value(x) for x in v]
    if isinstance(v, dict):
        return {str(k): json_value(x) for k, x in v.items()}
    return str(v)


class SqlEngine:
    """A sandboxed DuckDB whose views mirror the catalog. Thread-safe: each query has its own cursor."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        timeout_ms: int = 10_000,
        max_rows: int = 10_000,
        rows_ceiling: int = 100_000,
        max_timeout_ms: int = 60_000,
        memory_limit: str = "1GB",
        max_temp_size: str = "4GB",
        threads: int | None = None,
        refresh_seconds: float = 0.5,
        max_result_bytes: int = 32 << 20,
    ) -> None:
        self.catalog = catalog
        self.timeout_ms = timeout_ms
        self.max_rows = max_rows
        self.rows_ceiling = rows_ceiling  # the largest limit a caller may ask for
        self.max_timeout_ms = max_timeout_ms  # the largest time limit a caller may ask for
        self.max_result_bytes = max_result_bytes
        self.refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._views: dict[str, tuple[str, ...]] = {}  # view name -> the data files it reads
        self._arrow: dict[str, ParquetSource] = {}  # view name -> pyarrow dataset (S3 lakes), mounted per cursor
        self._last_refresh = 0.0
        self._watchdog = Watchdog("sql-time-limit")
        self._local = catalog.storage.local_path("datasets/x") is not None
        # DuckDB adds its temp directory to the readable paths: give it a private, empty one.
        self._spill = tempfile.TemporaryDirectory(prefix="lakehouse-sql-")
        self.db = duckdb.connect(":memory:")
        if threads:
            self.db.execute(f"SET threads={int(threads)}")
        self.db.execute(f"SET memory_limit={quote_literal(memory_limit)}")
        self.db.execute(f"SET temp_directory={quote_literal(self._spill.name)}")
        self.db.execute(f"SET max_temp_directory_size={quote_literal(max_temp_size)}")  # spill may not fill the disk
        # Keep each Parquet footer once read: the lake's objects are written once under a new key per version,
        # and DuckDB still checks a cached file's modification time. Saves decoding the footer per query.
        # GLOBAL: the setting is per connection otherwise, and every query runs on a cursor of its own.
        self.db.execute("SET GLOBAL parquet_metadata_cache=true")
        if self._local:
            datasets_dir = catalog.storage.local_path("datasets/x").parent  # type: ignore[union-attr]
            datasets_dir.mkdir(parents=True, exist_ok=True)
            self.db.execute(f"SET allowed_directories=[{quote_literal(str(datasets_dir) + '/')}]")
        self.db.execute("SET enable_external_access=false")
        self.db.execute("SET autoinstall_known_extensions=false")
        self.db.execute("SET autoload_known_extensions=false")
        self.db.execute("SET lock_configuration=true")
        self._ddl = self.db.cursor()  # view DDL runs here, under the lock; queries use their own cursors
        self.refresh(force=True)

    # -- views -------------------------------------------------------------------------------

    def _wanted_views(self, manifests: list[Manifest]) -> dict[str, tuple[str, ...]]:
        """Each view and the data files of the version it shows: `name` the live one, `name__vN` each."""
        wanted: dict[str, tuple[str, ...]] = {}
        for m in manifests:
            wanted[m.name] = m.data_files
            for v in m.versions:
                wanted[f"{m.name}__v{v.version}"] = v.data_files
        return wanted

    def refresh(self, force: bool = False) -> None:
        """Bring the views in line with the catalog. Cheap when nothing changed."""
        if not force and time.monotonic() - self._last_refresh < self.refresh_seconds:
            return
        with self._lock:
            now = time.monotonic()
            if not force and now - self._last_refresh < self.refresh_seconds:
                return  # another thread refreshed while this one waited
            self._last_refresh = now
            self.catalog.refresh(max_age=0.0 if force else self.refresh_seconds)
            wanted = self._wanted_views(self.catalog.list())
            if wanted == self._views:
                return
            errors: list[str] = []
            for view in set(self._views) - set(wanted):  # drop first: a poison manifest blocks nothing
                self._drop(view)
            for view, key in wanted.items():
                if self._views.get(view) == key:
                    continue
                try:
                    self._create(view, key)
                except (duckdb.Error, OSError) as e:
                    errors.append(f"{view}: {e}")
            if errors:
                log.warning("some dataset views could not be created: %s", "; ".join(errors))

    def _drop(self, view: str) -> None:
        if self._local:
            self._ddl.execute(f"DROP VIEW IF EXISTS {quote_ident(view)}")
        self._arrow.pop(view, None)
        self._views.pop(view, None)

    def _create(self, view: str, files: tuple[str, ...]) -> None:
        source = parquet_source(self.catalog.storage, files)
        if isinstance(source, str):
            mount(self._ddl, view, source)
        else:
            self._arrow[view] = source
        self._views[view] = files

    @property
    def views(self) -> list[str]:
        with self._lock:
            return sorted(self._views)

    # -- queries -----------------------------------------------------------------------------

    @staticmethod
    def _check(cursor: duckdb.DuckDBPyConnection, sql: str) -> duckdb.Statement:
        """The single allowed statement, parsed: executing it skips a second parse of the text."""
        if not sql or not sql.strip():
            raise SqlError("the query is empty")
        try:
            statements = cursor.extract_statements(sql)
        except duckdb.Error as e:
            raise SqlError(str(e)) from None
        if len(statements) != 1:
            raise SqlRefused(f"send exactly one statement (got {len(statements)})")
        kind = statements[0].type
        if kind not in _ALLOWED_STATEMENTS:
            name = getattr(kind, "name", str(kind))
            raise SqlRefused(f"only read-only queries (SELECT, WITH, VALUES, ...) are allowed, not {name}")
        return statements[0]

    def _rows(
        self, cursor: duckdb.DuckDBPyConnection, limit: int, timed_out: threading.Event, timeout_ms: int
    ) -> tuple[list, bool]:
        """Up to `limit` JSON-safe rows and whether more were left, stopping early past max_result_bytes.

        DuckDB's memory_limit bounds only DuckDB: rows fetched into Python are Python's. So the first fetch is
        a few rows, and each next one asks for as many as the bytes left would hold at the widest row seen so far
        (at most FETCH_CHUNK): wide rows never pile up past the result cap. Conversion runs inside the time
        limit too: the timer's flag is checked between fetches.
        """
        rows: list[list[Any]] = []
        size, widest, asked = 0, 1, FIRST_FETCH
        while len(rows) < limit:
            asked = max(1, min(asked, FETCH_CHUNK, limit - len(rows)))
            chunk = cursor.fetchmany(asked)
            if not chunk:
                return rows, False
            for row in chunk:
                converted = [json_value(v) for v in row]
                width = len(json.dumps(converted, separators=(",", ":"), default=str)) + 1
                if size + width > self.max_result_bytes:
                    return rows, True
                size, widest = size + width, max(widest, width)
                rows.append(converted)
            if timed_out.is_set():
                raise SqlTimeout(timeout_ms)
            if len(chunk) < asked:  # fetchmany fills up to `asked` across DuckDB's chunks: a short one is the end
                return rows, False
            asked = min(asked * 4, (self.max_result_bytes - size) // widest + 1)
        return rows, bool(cursor.fetchmany(1))

    def _limits(self, limit: int | None, timeout_ms: int | None) -> tuple[int, int]:
        """The row and time limits of a query: the caller's, checked against the ceilings, or the defaults."""
        if limit is not None and limit > self.rows_ceiling:
            raise SqlError(f"limit {limit} is above the largest allowed, {self.rows_ceiling}")
        if timeout_ms is not None and timeout_ms > self.max_timeout_ms:
            raise SqlError(f"timeout_ms {timeout_ms} is above the largest allowed, {self.max_timeout_ms}")
        limit = self.max_rows if limit is None else limit
        timeout_ms = self.timeout_ms if timeout_ms is None else timeout_ms
        if limit < 0:
            raise SqlError("limit must be zero or more")
        if timeout_ms <= 0:
            raise SqlError("timeout_ms must be positive")
        return limit, timeout_ms

    @contextlib.contextmanager
    def _running(
        self, sql: str, timeout_ms: int
    ) -> Iterator[tuple[duckdb.DuckDBPyConnection, duckdb.Statement, threading.Event]]:
        """A cursor and `sql` as the one statement the sandbox allows, with the time limit armed until the
        block ends; DuckDB's errors inside it become SqlError, SqlRefused or SqlTimeout."""
        self.refresh()
        cursor = self.db.cursor()
        timed_out = threading.Event()

        def interrupt() -> None:
            timed_out.set()
            cursor.interrupt()

        deadline: int | None = None
        try:
            statement = self._check(cursor, sql)
            with self._lock:
                arrow = dict(self._arrow)
            for view, dataset in arrow.items():
                mount(cursor, view, dataset)
            deadline = self._watchdog.arm(timeout_ms / 1000, interrupt)
            try:
                yield cursor, statement, timed_out
            except duckdb.InterruptException:
                raise SqlTimeout(timeout_ms) from None
            except duckdb.PermissionException as e:  # the sandbox refused a file, URL or setting
                raise SqlRefused(str(e)) from None
            except duckdb.Error as e:
                if timed_out.is_set():
                    raise SqlTimeout(timeout_ms) from None
                raise SqlError(str(e)) from None
        finally:
            if deadline is not None:
                self._watchdog.disarm(deadline)
            cursor.close()

    def query(self, sql: str, *, limit: int | None = None, timeout_ms: int | None = None) -> QueryResult:
        """Run one read-only statement. Raises SqlError (bad or refused) or SqlTimeout."""
        limit, timeout_ms = self._limits(limit, timeout_ms)
        start = time.perf_counter()
        with self._running(sql, timeout_ms) as (cursor, statement, timed_out):
            cursor.execute(statement)
            description = cursor.description or []
            try:
                rows, truncated = (
                    self._rows(cursor, limit, timed_out, timeout_ms) if limit else ([], bool(cursor.fetchmany(1)))
                )
            except (OverflowError, ValueError, TypeError) as e:
                # A value DuckDB holds and Python cannot (an interval past timedelta's range): the rows come
                # as DuckDB's own text of each value instead, the columns keep their types.
                log.info("result values Python cannot hold (%s): returning them as text", e)
                as_text = f"SELECT COLUMNS(*)::VARCHAR FROM (\n{sql.strip().rstrip(';')}\n)"
                cursor.execute(self._check(cursor, as_text))
                rows, truncated = self._rows(cursor, limit, timed_out, timeout_ms)
        columns = [{"name": d[0], "type": str(d[1])} for d in description]
        elapsed = (time.perf_counter() - start) * 1000
        return QueryResult(columns, rows, len(rows), truncated, round(elapsed, 3))

    def query_arrow(self, sql: str, *, limit: int | None = None, timeout_ms: int | None = None) -> ArrowResult:
        """`query`, with the rows as Arrow record batches (for Arrow IPC, CSV and NDJSON responses): the same
        sandbox, row limit, time limit and result-size cap, without a Python object per cell."""
        limit, timeout_ms = self._limits(limit, timeout_ms)
        start = time.perf_counter()
        with self._running(sql, timeout_ms) as (cursor, statement, timed_out):
            relation = cursor.sql(statement.query)  # a relation streams Arrow without a copy of the rows
            columns = [{"name": n, "type": str(t)} for n, t in zip(relation.columns, relation.types, strict=True)]
            reader = relation.to_arrow_reader(ARROW_BATCH_ROWS)
            schema = reader.schema
            batches, rows, size, truncated = [], 0, 0, False
            for batch in reader:
                if timed_out.is_set():
                    raise SqlTimeout(timeout_ms)
                room = limit - rows
                if batch.num_rows > room or size + batch.nbytes > self.max_result_bytes:
                    per_row = batch.nbytes / max(batch.num_rows, 1)
                    fits = min(room, int((self.max_result_bytes - size) // per_row) if per_row else room)
                    batch, truncated = batch.slice(0, max(fits, 0)), True
                if batch.num_rows:
                    batches.append(batch)
                    rows, size = rows + batch.num_rows, size + batch.nbytes
                if truncated:
                    break
            if timed_out.is_set():
                raise SqlTimeout(timeout_ms)
        elapsed = (time.perf_counter() - start) * 1000
        return ArrowResult(schema, columns, batches, rows, truncated, round(elapsed, 3))

    def close(self) -> None:
        self._watchdog.close()
        self._ddl.close()
        self.db.close()
        self._spill.cleanup()
