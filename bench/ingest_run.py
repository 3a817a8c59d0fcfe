"""One measured ingest in a fresh process, so its peak RSS is its own: `raw` is DuckDB's COPY, the
baseline; `core` is lakehouse's ingest_csv. Prints one JSON line."""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    mode, csv_path = sys.argv[1], Path(sys.argv[2])
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as folder:
        print(json.dumps(measure(mode, csv_path, Path(folder))))


def measure(mode: str, csv_path: Path, work: Path) -> dict[str, object]:
    if mode == "raw":
        import duckdb

        start = time.perf_counter()
        duckdb.sql(f"COPY (SELECT * FROM read_csv('{csv_path}')) TO '{work / 'raw.parquet'}' (FORMAT parquet)")
        rows = duckdb.sql(f"SELECT count(*) FROM '{work / 'raw.parquet'}'").fetchall()[0][0]
    else:
        from lakehouse_assets.core.ingest.csv import IngestLimits, ingest_csv
        from lakehouse_assets.core.lake.handle import Lake
        from lakehouse_assets.core.settings import LakehouseSettings

        lake = Lake.open(LakehouseSettings(home=work, _env_file=None))
        start = time.perf_counter()
        result = ingest_csv(csv_path, "workers", lake=lake, limits=IngestLimits(max_bytes=1 << 40))
        rows = result.manifest.row_count
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"mode": mode, "seconds": seconds, "rows": rows, "peak_rss_mib": peak}


if __name__ == "__main__":
    main()
