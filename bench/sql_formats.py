"""SQL result formats benchmark: one large result through `POST /v1/sql` as JSON, Arrow IPC, CSV and NDJSON,
against DuckDB handing the same rows to Arrow in-process (the raw baseline), in the same run.

    python -m bench.sql_formats [--rows 1000000] [--repeat 3]

The result is `--rows` rows of the sample roster (worker id, role, state, city, rate, years, availability),
read by the client the way a client would: JSON with json.loads, Arrow with pyarrow's IPC reader, CSV with
pyarrow's CSV reader, NDJSON with pyarrow's JSON reader. Prints rows/s per format (median of `--repeat`)
and the Arrow/JSON ratio (the target: at least 10x); writes bench/results/sql_formats.json.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import httpx
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson

from bench.uvicorn_process import lakehouse_api
from lakehouse_assets.services import wait_until_answers

RESULTS = Path(__file__).resolve().parent / "results"
COLUMNS = "worker_id, role, state, city, hourly_rate, years_experience, availability"
QUERY = "SELECT {columns} FROM workers, range({copies}) LIMIT {rows}"
FORMATS: dict[str, tuple[str, Callable[[bytes], int]]] = {
    "json": ("application/json", lambda b: len(json.loads(b)["rows"])),
    "arrow": ("application/vnd.apache.arrow.stream", lambda b: pa.ipc.open_stream(b).read_all().num_rows),
    "csv": ("text/csv", lambda b: pacsv.read_csv(io.BytesIO(b)).num_rows),
    "ndjson": ("application/x-ndjson", lambda b: pajson.read_json(io.BytesIO(b)).num_rows),
}
FORMATS_BY_TYPE = dict(FORMATS.values())


def fetch(client: httpx.Client, url: str, sql: str, accept: str, rows: int) -> tuple[float, float, int, int]:
    """(seconds to the last byte, seconds to the decoded table, bytes, rows decoded)."""
    start = time.perf_counter()
    with client.stream("POST", f"{url}/v1/sql", json={"sql": sql, "limit": rows}, headers={"accept": accept}) as r:
        body = r.read()
        if r.status_code != 200:
            raise RuntimeError(f"{accept}: {r.status_code} {body[:300]!r}")
    received = time.perf_counter() - start
    decoded_rows = FORMATS_BY_TYPE[accept](body)
    return received, time.perf_counter() - start, len(body), decoded_rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--roster", type=int, default=100_000, help="workers in the sample the rows repeat")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from lakehouse_assets.core.ingest.csv import IngestLimits, ingest_csv
    from lakehouse_assets.core.lake.handle import Lake
    from lakehouse_assets.core.sample.generate import write_workers_csv
    from lakehouse_assets.core.settings import LakehouseSettings

    work = Path(tempfile.mkdtemp(prefix="bench-sql-formats-"))
    home = work / "lake"
    csv_path = work / "workers.csv"
    write_workers_csv(csv_path, args.roster)
    lake = Lake.open(LakehouseSettings(home=home, _env_file=None))
    manifest = ingest_csv(csv_path, "workers", lake=lake, limits=IngestLimits(max_bytes=1 << 40)).manifest
    sql = QUERY.format(columns=COLUMNS, copies=-(-args.rows // args.roster), rows=args.rows)

    raw = []
    con = duckdb.connect()
    con.execute(f"CREATE VIEW workers AS SELECT * FROM read_parquet('{lake.storage.local_path(manifest.object_key)}')")
    for _ in range(args.repeat):
        start = time.perf_counter()
        assert con.sql(sql).to_arrow_table().num_rows == args.rows
        raw.append(time.perf_counter() - start)

    env = {
        "LAKEHOUSE_WARM_EMBEDDER": "false",
        "LAKEHOUSE_SQL_ROWS_CEILING": str(args.rows),
        "LAKEHOUSE_SQL_MAX_RESULT_BYTES": str(8 << 30),
        "LAKEHOUSE_SQL_TIMEOUT_MS": "60000",
    }
    server = lakehouse_api(home, env)
    results: dict[str, dict[str, float]] = {}
    try:
        wait_until_answers(f"{server.url}/health", server.proc, 60, "the API")
        with httpx.Client(timeout=600) as client:
            for name, (accept, _) in FORMATS.items():
                runs = [fetch(client, server.url, sql, accept, args.rows) for _ in range(args.repeat)]
                assert all(r[3] == args.rows for r in runs), (name, [r[3] for r in runs])
                received = statistics.median(r[0] for r in runs)
                decoded = statistics.median(r[1] for r in runs)
                results[name] = {
                    "seconds_received": round(received, 3),
                    "seconds_decoded": round(decoded, 3),
                    "rows_per_second": round(args.rows / decoded),
                    "mib": round(runs[0][2] / 2**20, 1),
                }
                print(
                    f"  {name:6}  {args.rows / decoded:>12,.0f} rows/s  ({decoded:.2f}s, {runs[0][2] / 2**20:.0f} MiB)"
                )
    finally:
        server.stop()

    raw_s = statistics.median(raw)
    arrow_vs_json = results["arrow"]["rows_per_second"] / results["json"]["rows_per_second"]
    report = {
        "rows": args.rows,
        "query": sql,
        "raw_duckdb_arrow": {"seconds": round(raw_s, 3), "rows_per_second": round(args.rows / raw_s)},
        "formats": results,
        "arrow_vs_json": round(arrow_vs_json, 1),
        "target_arrow_vs_json": 10.0,
        "passed": arrow_vs_json >= 10.0,
    }
    print(f"  raw DuckDB to Arrow in-process: {args.rows / raw_s:,.0f} rows/s")
    print(f"  Arrow / JSON: {arrow_vs_json:.1f}x (target >= 10x): {'PASS' if report['passed'] else 'FAIL'}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sql_formats.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
