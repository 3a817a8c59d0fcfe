"""Read one lake table with another engine and print what it found as JSON. Runs in its own virtualenv
(`.venv/engines`, made by `make test`): pyiceberg, DuckDB 1.5.5 with its signed iceberg extension, and
Ray Data on a local Ray cluster. It imports nothing from this project: all it is given is the catalog.

    python read_table.py ENGINE CATALOG_URI TABLE GROUP_COLUMN
"""

from __future__ import annotations

import json
import sqlite3
import sys
from typing import Any


def load_table(uri: str, name: str) -> Any:
    from pyiceberg.catalog.sql import SqlCatalog

    return SqlCatalog("lakehouse", uri=uri).load_table(("lakehouse", name))


def with_pyiceberg(uri: str, name: str, group: str) -> dict[str, Any]:
    table = load_table(uri, name)
    live = table.scan().to_arrow()
    first = table.snapshots()[0]
    return {
        "rows": live.num_rows,
        "columns": live.column_names,
        "groups": _groups(live.column(group).to_pylist()),
        "first_snapshot_rows": table.scan(snapshot_id=first.snapshot_id).to_arrow().num_rows,
        "snapshots": len(table.snapshots()),
    }


def with_duckdb(uri: str, name: str, group: str) -> dict[str, Any]:
    import duckdb
    import duckdb_extensions

    path = uri.removeprefix("sqlite:///").split("?", 1)[0]
    with sqlite3.connect(path) as db:  # the catalog says where the table's current metadata is
        (location,) = db.execute(
            "SELECT metadata_location FROM iceberg_tables WHERE table_namespace = 'lakehouse' AND table_name = ?",
            (name,),
        ).fetchone()
    con = duckdb.connect()
    for extension in ("avro", "iceberg"):
        duckdb_extensions.import_extension(extension, con=con)
    scan = f"iceberg_scan('{location}')"
    (rows,) = con.execute(f"SELECT count(*) FROM {scan}").fetchone()
    columns = [d[0] for d in con.execute(f"SELECT * FROM {scan} LIMIT 0").description]
    groups = con.execute(f'SELECT "{group}", count(*) FROM {scan} GROUP BY 1 ORDER BY 1').fetchall()
    return {"rows": rows, "columns": columns, "groups": [[g, n] for g, n in groups], "version": duckdb.__version__}


def with_ray_data(uri: str, name: str, group: str) -> dict[str, Any]:
    """Ray Data on a local Ray cluster: the scan planned from the catalog, its files read by Ray tasks."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        data = ray.data.read_iceberg(
            table_identifier=f"lakehouse.{name}", catalog_kwargs={"name": "lakehouse", "type": "sql", "uri": uri}
        )
        counted = sorted((row[group], row["count()"]) for row in data.groupby(group).count().take_all())
        return {
            "rows": data.count(),
            "columns": data.columns(),
            "groups": [[g, n] for g, n in counted],
            "ray_nodes": len(ray.nodes()),
        }
    finally:
        ray.shutdown()


def _groups(values: list[Any]) -> list[list[Any]]:
    counts: dict[Any, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return [[k, counts[k]] for k in sorted(counts)]


ENGINES = {"pyiceberg": with_pyiceberg, "duckdb": with_duckdb, "ray": with_ray_data}

if __name__ == "__main__":
    engine, uri, table, group = sys.argv[1:5]
    print(json.dumps(ENGINES[engine](uri, table, group)))
