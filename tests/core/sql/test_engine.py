"""The SQL sandbox: views over the catalog, limits, and every escape the issue names refused."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from lakehouse_assets.core.ingest.csv import IngestLimits, ingest_csv
from lakehouse_assets.core.lake.catalog import Catalog
from lakehouse_assets.core.lake.handle import Lake
from lakehouse_assets.core.settings import LakehouseSettings
from lakehouse_assets.core.sql.engine import SqlEngine, SqlError, SqlRefused, SqlTimeout


@pytest.fixture
def put(lake: Lake):
    def run(name: str, data: bytes):
        return ingest_csv(io.BytesIO(data), name, lake=lake, limits=IngestLimits()).manifest

    return run


@pytest.fixture
def engine(catalog: Catalog, put):
    put("people", b"id,name,zip\n1,ann,00123\n2,bob,60601\n3,cy,60602\n")
    e = SqlEngine(catalog, refresh_seconds=0)
    yield e
    e.close()


def test_select_returns_columns_types_and_rows(engine):
    r = engine.query("SELECT id, name, zip FROM people ORDER BY id")
    assert r.columns == [
        {"name": "id", "type": "BIGINT"},
        {"name": "name", "type": "VARCHAR"},
        {"name": "zip", "type": "VARCHAR"},
    ]
    assert r.rows == [[1, "ann", "00123"], [2, "bob", "60601"], [3, "cy", "60602"]]
    assert r.row_count == 3 and r.truncated is False and r.elapsed_ms >= 0


def test_with_and_values_queries_are_allowed(engine):
    assert engine.query("WITH t AS (SELECT count(*) n FROM people) SELECT n FROM t").rows == [[3]]
    assert engine.query("VALUES (1, 'x')").rows == [[1, "x"]]


def test_views_follow_new_versions_and_keep_old_ones(engine, put):
    put("people", b"id,name,zip\n1,ann,00123\n")
    assert engine.query("SELECT count(*) FROM people").rows == [[1]]
    assert engine.query("SELECT count(*) FROM people__v1").rows == [[3]]
    assert engine.query("SELECT count(*) FROM people__v2").rows == [[1]]
    put("towns", b"zip,town\n60601,Chicago\n")
    joined = engine.query("SELECT p.name, t.town FROM people__v1 p JOIN towns t USING (zip)")
    assert joined.rows == [["bob", "Chicago"]]


def test_row_limit_truncates_and_says_so(engine):
    r = engine.query("SELECT * FROM range(100)", limit=10)
    assert r.row_count == 10 and r.truncated is True and r.rows[-1] == [9]
    exact = engine.query("SELECT * FROM range(10)", limit=10)
    assert exact.row_count == 10 and exact.truncated is False


def test_default_row_limit_applies(catalog):
    e = SqlEngine(catalog, max_rows=5)
    try:
        r = e.query("SELECT * FROM range(6)")
        assert r.row_count == 5 and r.truncated
    finally:
        e.close()


def test_a_caller_cannot_ask_past_the_ceilings(catalog):
    e = SqlEngine(catalog, rows_ceiling=100, max_timeout_ms=5_000)
    try:
        with pytest.raises(SqlError, match="limit 101 is above the largest allowed, 100"):
            e.query("SELECT 1", limit=101)
        with pytest.raises(SqlError, match="timeout_ms 5001 is above the largest allowed, 5000"):
            e.query("SELECT 1", timeout_ms=5_001)
        assert e.query("SELECT * FROM range(200)", limit=100, timeout_ms=5_000).row_count == 100
    finally:
        e.close()


def test_repeated_queries_keep_parquet_footers_cached(engine):
    """The lake's objects never change under a key, so DuckDB may keep their metadata between queries.

    Asked through a query: the setting is per connection in DuckDB unless set GLOBAL, and every query
    runs on a cursor of its own."""
    assert engine.query("SELECT current_setting('parquet_metadata_cache') AS cached").rows == [[True]]


def test_long_query_is_interrupted_at_the_time_limit(engine):
    with pytest.raises(SqlTimeout, match="200 ms"):
        engine.query("SELECT count(*) FROM range(100000000000) a", timeout_ms=200)
    assert engine.query("SELECT 1").rows == [[1]]  # the engine is still usable


def test_values_are_json_safe(engine):
    r = engine.query(
        "SELECT DATE '2024-01-02' d, TIMESTAMP '2024-01-02 03:04:05' ts, 1.25::DECIMAL(5,2) dec, "
        "'nan'::DOUBLE n, [1,2] l, {'a': 1} s, '\\x01'::BLOB b, NULL z"
    )
    assert r.rows == [["2024-01-02", "2024-01-02T03:04:05", 1.25, None, [1, 2], {"a": 1}, "AQ==", None]]


@pytest.mark.parametrize(
    "sql",
    [
        "DROP VIEW people",
        "CREATE TABLE t AS SELECT 1",
        "INSERT INTO people VALUES (4, 'x', '1')",
        "ATTACH 'evil.db' AS evil",
        "COPY people TO 'out.csv'",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET threads = 1",
        "PRAGMA database_list",
        "SELECT 1; SELECT 2",
        "SELECT 1; DROP VIEW people",
        "EXPORT DATABASE 'dump'",
        "CALL pragma_version()",
        "DETACH memory",
        "EXPLAIN SELECT 1",
        "EXPLAIN ANALYZE CREATE OR REPLACE VIEW people AS SELECT 'poisoned' AS id",
        "EXPLAIN ANALYZE COPY (SELECT 666 AS evil) TO 'x.parquet' (FORMAT parquet)",
        "EXPLAIN ANALYZE DROP VIEW people",
    ],
)
def test_statements_that_are_not_a_single_query_are_refused(engine, sql):
    with pytest.raises(SqlRefused):
        engine.query(sql)
    assert engine.query("SELECT count(*) FROM people").rows == [[3]]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_csv_auto('/etc/hostname')",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM read_blob('/etc/passwd')",
        "SELECT * FROM glob('/etc/*')",
        "SELECT * FROM read_parquet('http://127.0.0.1:9/x.parquet')",
        "SELECT * FROM read_json('https://example.com/x.json')",
        "SELECT * FROM 'relative.csv'",
        "SELECT * FROM query('ATTACH ''x.db''')",
    ],
)
def test_reading_files_or_urls_outside_the_lake_is_refused(engine, sql):
    with pytest.raises(SqlError):
        engine.query(sql)


def test_landing_zone_and_manifests_are_not_readable_through_sql(engine, settings: LakehouseSettings):
    landing = settings.home / "landing"
    landing.mkdir(parents=True, exist_ok=True)
    (landing / "secret.csv").write_text("a\n1\n")
    for path in (landing / "secret.csv", settings.home / "catalog" / "people" / "v00000001.json"):
        with pytest.raises(SqlError, match=r"Permission|disabled"):
            engine.query(f"SELECT * FROM read_text('{path}')")


def test_configuration_cannot_be_changed_from_a_query(engine):
    with pytest.raises(SqlError):
        engine.query("SELECT set_config('enable_external_access', 'true')")
    with pytest.raises(SqlRefused):
        engine.query("RESET enable_external_access")


def test_errors_name_the_problem(engine):
    with pytest.raises(SqlError, match="nope"):
        engine.query("SELECT * FROM nope")
    with pytest.raises(SqlError, match="empty"):
        engine.query("   ")
    with pytest.raises(SqlError, match=r"(?i)syntax|parser"):
        engine.query("SELEC 1")


def test_a_damaged_object_does_not_hide_the_other_datasets(catalog, put, lake):
    bad = put("broken", b"a\n1\n")
    put("fine", b"b\n2\n")
    path: Path = lake.storage.local_path(bad.object_key)
    path.write_bytes(b"not parquet")
    e = SqlEngine(catalog)
    try:
        assert e.query("SELECT b FROM fine").rows == [[2]]
        with pytest.raises(SqlError):
            e.query("SELECT * FROM broken")
    finally:
        e.close()


def test_explain_analyze_cannot_overwrite_a_live_object(engine, catalog, lake):
    path = lake.storage.local_path(catalog.get("people").object_key)
    before = path.read_bytes()
    with pytest.raises(SqlRefused):
        engine.query(f"EXPLAIN ANALYZE COPY (SELECT 666 AS evil) TO '{path}' (FORMAT parquet)")
    assert path.read_bytes() == before
    assert engine.query("SELECT count(*) FROM people").rows == [[3]]


def test_duckdb_temp_directory_is_private_and_empty(engine, tmp_path, monkeypatch):
    allowed = engine.query("SELECT current_setting('allowed_directories')").rows[0][0]
    assert all(".tmp" not in d or "lakehouse-sql-" in d for d in allowed)
    with pytest.raises(SqlError):
        engine.query("SELECT * FROM glob('.tmp/*')")


def test_queries_keep_working_while_views_refresh(engine, put):
    import threading

    errors: list[Exception] = []
    stop = threading.Event()

    def query_loop() -> None:
        while not stop.is_set():
            try:
                engine.query("SELECT count(*) FROM people")
            except Exception as e:  # any error here is a concurrency bug
                errors.append(e)

    threads = [threading.Thread(target=query_loop) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for i in range(8):
            put("people", f"id,name,zip\n{i},x,00001\n".encode())
            engine.refresh(force=True)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []
    assert engine.query("SELECT count(*) FROM people__v9").rows == [[1]]


def test_results_are_cut_at_the_byte_cap_and_marked_truncated(catalog):
    e = SqlEngine(catalog, max_result_bytes=100_000)
    try:
        r = e.query("SELECT repeat('x', 10000) AS s FROM range(1000)")
        assert r.truncated is True and 0 < r.row_count < 1000
        assert sum(len(row[0]) for row in r.rows) < 200_000
    finally:
        e.close()


def test_a_result_at_the_cap_is_never_returned_twice(catalog):
    """Before: a chunk whose JSON was one byte over the cap, every row of which fit, was appended twice."""
    for cap in range(30, 50):
        e = SqlEngine(catalog, max_result_bytes=cap)
        try:
            r = e.query("SELECT i FROM range(10) t(i)")
            assert r.rows == [[i] for i in range(len(r.rows))], (cap, r.rows)
            assert r.truncated == (len(r.rows) < 10)
        finally:
            e.close()


def test_wide_rows_do_not_pile_up_in_python_past_the_cap(catalog):
    """Before: 1,024 rows were fetched and converted before the byte cap applied, so a few wide rows held
    gigabytes outside DuckDB's memory_limit. Now each fetch asks only for what the bytes left would hold."""
    import tracemalloc

    e = SqlEngine(catalog, max_result_bytes=2 << 20)
    try:
        tracemalloc.start()
        r = e.query("SELECT repeat('x', 1000000) AS s FROM range(400)", limit=1000)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert r.truncated and r.row_count == 2
        assert peak < 60 << 20, f"{peak / 2**20:.0f} MiB held in Python for a 2 MiB result"  # before: 1,145 MiB
    finally:
        e.close()


def test_values_python_cannot_hold_come_back_as_text(engine):
    """Before: an interval past Python's timedelta range was an OverflowError, a 500."""
    r = engine.query("SELECT INTERVAL 100000000 YEAR AS i, 7 AS n")
    assert r.rows == [["100000000 years", "7"]] and [c["type"] for c in r.columns] == ["INTERVAL", "INTEGER"]
    r = engine.query("SELECT INTERVAL '1000000000 days' AS d -- a comment at the end;")
    assert r.rows == [["1000000000 days"]]


def test_spill_is_bounded_on_disk(catalog):
    e = SqlEngine(catalog, max_temp_size="123MB")
    try:
        assert e.query("SELECT current_setting('max_temp_directory_size')").rows[0][0].startswith("117")
    finally:
        e.close()


def test_an_arrow_result_keeps_the_row_limit_and_the_byte_cap(catalog):
    e = SqlEngine(catalog, max_result_bytes=1 << 20, rows_ceiling=500_000)
    try:
        narrow = e.query_arrow("SELECT range AS i FROM range(300000)", limit=250_000)
        assert narrow.truncated and 120_000 < narrow.row_count <= 131_072  # ~8 bytes a row: the cap cut it
        assert sum(b.nbytes for b in narrow.batches) <= 1 << 20
        assert sum(b.num_rows for b in narrow.batches) == narrow.row_count
        assert [b.column(0)[0].as_py() for b in narrow.batches[:2]] == [0, 1024]  # in order, none twice
        wide = e.query_arrow("SELECT repeat('x', 10000) AS s FROM range(1000)")
        assert wide.truncated and 0 < wide.row_count < 110
        assert sum(b.nbytes for b in wide.batches) <= 1 << 20
        whole = e.query_arrow("SELECT range AS i FROM range(1000)", limit=1000)
        assert (whole.row_count, whole.truncated) == (1000, False)
        assert whole.columns == [{"name": "i", "type": "BIGINT"}]
    finally:
        e.close()
