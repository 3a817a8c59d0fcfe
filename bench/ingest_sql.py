"""Ingest and SQL benchmark: lakehouse against the raw libraries underneath it, in the same run.

    python -m bench.ingest_sql [--rows 500000] [--repeat 3] [--queries 300]

1. CSV ingest of two shapes, the sample staffing file and a prose-heavy roster from another system
   (bench/csv_shapes.py): DuckDB `COPY (SELECT * FROM read_csv(..)) TO parquet` (raw baseline) vs
   `ingest_csv` (core) vs `POST /v1/ingest` to a running API (HTTP); medians of `--repeat` runs, each
   ingest in a fresh process so its peak RSS is its own.
2. `/v1/sql` p50/p95 for a point lookup and a GROUP BY over all rows vs the same query in a plain
   in-process DuckDB over the same Parquet object.

Prints a table with the ratios and the issue's targets; writes JSON next to it in bench/results/.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx

from bench.stats import p50_p95
from bench.uvicorn_process import lakehouse_api
from lakehouse_assets.services import wait_until_answers

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
POINT = "SELECT * FROM workers WHERE worker_id = {id}"
GROUP_BY = "SELECT role, state, count(*) AS n, avg(hourly_rate) AS rate FROM workers GROUP BY role, state"


def run_ingest_process(mode: str, csv_path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench.ingest_run", mode, str(csv_path)],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def http_ingest(
    url: str,
    csv_path: Path,
    name: str,
    *,
    client: httpx.Client | None = None,
    on_bytes: Callable[[int], object] | None = None,
) -> float:
    """Seconds to stream `csv_path` to `POST /v1/ingest` as dataset `name` (a 201 or an error).

    `on_bytes` is told the size of each chunk as it is sent (a progress bar's update)."""

    def body() -> Iterator[bytes]:
        with open(csv_path, "rb") as f:
            while chunk := f.read(1 << 20):
                if on_bytes is not None:
                    on_bytes(len(chunk))
                yield chunk

    post = client.post if client is not None else httpx.post
    start = time.perf_counter()
    r = post(
        f"{url}/v1/ingest", params={"name": name}, content=body(),
        headers={"content-type": "text/csv"}, timeout=3600,
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    if r.status_code != 201:
        raise RuntimeError(f"ingest of {name} failed: {r.status_code} {r.text[:300]}")
    return elapsed


def time_http(client: httpx.Client, url: str, queries: list[str]) -> list[float]:
    out = []
    for sql in queries:
        start = time.perf_counter()
        r = client.post(url, json={"sql": sql})
        out.append((time.perf_counter() - start) * 1000)
        if r.status_code != 200:
            raise RuntimeError(f"{sql}: {r.status_code} {r.text[:200]}")
    return out


def time_raw(parquet: Path, queries: list[str]) -> list[float]:
    con = duckdb.connect()
    con.execute(f"CREATE VIEW workers AS SELECT * FROM read_parquet('{parquet}')")
    out = []
    for sql in queries:
        start = time.perf_counter()
        con.execute(sql).fetchall()
        out.append((time.perf_counter() - start) * 1000)
    con.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()

    from bench.csv_shapes import prose_roster
    from lakehouse_assets.core.sample.generate import write_workers_csv

    shapes = {"sample": write_workers_csv, "prose": prose_roster}
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        ingest: dict[str, dict[str, Any]] = {}
        for shape, write in shapes.items():
            csv_path = work / f"{shape}.csv"
            size = write(csv_path, args.rows)
            print(f"{shape}: {args.rows:,} rows, {size / 2**20:.0f} MiB CSV", flush=True)
            raw, core = [], []
            for i in range(args.repeat):
                raw.append(run_ingest_process("raw", csv_path))
                core.append(run_ingest_process("core", csv_path))
                print(f"  run {i + 1}: raw {raw[-1]['seconds']:.2f}s  core {core[-1]['seconds']:.2f}s", flush=True)
            assert all(r["rows"] == args.rows for r in raw + core)
            ingest[shape] = {"csv": csv_path, "mib": size / 2**20, "raw": raw, "core": core, "http": []}

        # ingest and SQL only: keep the embedding model out of the way
        env = {"LAKEHOUSE_WARM_EMBEDDER": "false", "LAKEHOUSE_MAX_INGEST_BYTES": str(1 << 40)}
        server = lakehouse_api(work / "api-lake", env)
        wait_until_answers(f"{server.url}/health", server.proc, 60, "the API")
        try:
            for shape, runs in ingest.items():
                for i in range(args.repeat):
                    name = "workers" if shape == "sample" and i == 0 else f"{shape}_{i}"
                    runs["http"].append(http_ingest(server.url, runs["csv"], name))
            api_peak = peak_rss_mib(server.proc.pid)
            ids = [(i * 7919) % args.rows + 1 for i in range(args.queries)]
            points = [POINT.format(id=i) for i in ids]
            groups = [GROUP_BY] * max(20, args.queries // 5)
            with httpx.Client(timeout=60) as client:
                url = f"{server.url}/v1/sql"
                time_http(client, url, points[:20] + groups[:3])  # warm
                http_point = time_http(client, url, points)
                http_group = time_http(client, url, groups)
                manifest = client.get(f"{server.url}/v1/datasets/workers").json()
        finally:
            server.stop()
        parquet = work / "api-lake" / manifest["object_key"]
        time_raw(parquet, points[:20] + groups[:3])
        raw_point, raw_group = time_raw(parquet, points), time_raw(parquet, groups)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    summary = {
        shape: {
            "raw": statistics.median(r["seconds"] for r in runs["raw"]),
            "core": statistics.median(r["seconds"] for r in runs["core"]),
            "http": statistics.median(runs["http"]),
            "raw_rss": max(r["peak_rss_mib"] for r in runs["raw"]),
            "core_rss": max(r["peak_rss_mib"] for r in runs["core"]),
            "mib": runs["mib"],
        }
        for shape, runs in ingest.items()
    }
    hp50, hp95 = p50_p95(http_point)
    rp50, rp95 = p50_p95(raw_point)
    hg50, hg95 = p50_p95(http_group)
    rg50, rg95 = p50_p95(raw_group)

    rows = []
    for shape, m in summary.items():
        raw_s, core_s, http_s = m["raw"], m["core"], m["http"]
        rows += [
            (f"ingest {shape}: raw DuckDB COPY", f"{raw_s:.2f} s", "1.00x", f"peak {m['raw_rss']:.0f} MiB", ""),
            (f"ingest {shape}: core ingest_csv", f"{core_s:.2f} s", f"{core_s / raw_s:.2f}x",
             f"peak {m['core_rss']:.0f} MiB",
             _verdict(core_s / raw_s <= 1.5 and m["core_rss"] < 500, "<=1.5x, <500 MiB")),
            (f"ingest {shape}: POST /v1/ingest", f"{http_s:.2f} s", f"{http_s / raw_s:.2f}x",
             f"API peak {api_peak:.0f} MiB", _verdict(http_s / raw_s <= 1.25, "<=1.25x")),
        ]  # fmt: skip
    rows += [
        ("sql point lookup: raw DuckDB", f"p50 {rp50:.2f} ms", "", f"p95 {rp95:.2f} ms", ""),
        ("sql point lookup: /v1/sql", f"p50 {hp50:.2f} ms", f"+{hp50 - rp50:.2f} ms", f"p95 {hp95:.2f} ms",
         _verdict(hp50 - rp50 <= 5, "<= raw + 5 ms")),
        ("sql GROUP BY: raw DuckDB", f"p50 {rg50:.2f} ms", "", f"p95 {rg95:.2f} ms", ""),
        ("sql GROUP BY: /v1/sql", f"p50 {hg50:.2f} ms", f"{hg50 / rg50:.2f}x", f"p95 {hg95:.2f} ms", ""),
    ]  # fmt: skip
    widths = [max(len(str(r[i])) for r in rows) for i in range(5)]
    print()
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = {
        "rows": args.rows,
        "ingest": {
            shape: {
                "csv_mib": m["mib"],
                "seconds": {"raw": m["raw"], "core": m["core"], "http": m["http"]},
                "ratio": {"core": m["core"] / m["raw"], "http": m["http"] / m["raw"]},
                "peak_rss_mib": {"raw": m["raw_rss"], "core": m["core_rss"]},
            }
            for shape, m in summary.items()
        },
        "api_peak_rss_mib": api_peak,
        "sql_ms": {
            "point": {"http_p50": hp50, "http_p95": hp95, "raw_p50": rp50, "raw_p95": rp95},
            "group_by": {"http_p50": hg50, "http_p95": hg95, "raw_p50": rg50, "raw_p95": rg95},
        },
    }
    (RESULTS / "ingest_sql.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


def _verdict(ok: bool, target: str) -> str:
    return f"{'PASS' if ok else 'MISS'} ({target})"


if __name__ == "__main__":
    sys.exit(main())
