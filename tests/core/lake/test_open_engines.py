"""The lake is open: other engines read its tables through the catalog with no project code in their process.

Each engine runs in `.venv/engines` (made by `make test`: pyiceberg, DuckDB 1.5.5 with its signed iceberg
and avro extensions, Ray Data) through `tests/open_engines/read_table.py`; what it finds must be what
the project's own SQL finds.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from lakehouse_assets.core.ingest.csv import IngestLimits, ingest_csv
from lakehouse_assets.core.lake.catalog import SchemaEvolution
from lakehouse_assets.core.lake.derived import replace_day
from lakehouse_assets.core.lake.handle import Lake
from lakehouse_assets.core.sql.engine import SqlEngine

ROOT = Path(__file__).resolve().parents[3]
READER = ROOT / "tests" / "open_engines" / "read_table.py"
ENGINES_PYTHON = Path(os.environ.get("LAKEHOUSE_ENGINES_PYTHON", ROOT / ".venv" / "engines" / "bin" / "python"))

V1 = b"id,role\n1,welder\n2,cook\n3,welder\n"
V2 = b"id,role,city\n1,welder,Toledo\n2,cook,Akron\n3,welder,Toledo\n4,driver,\n5,welder,Dayton\n"


@pytest.fixture(scope="module")
def engines_python() -> Path:
    if not ENGINES_PYTHON.exists():  # never a silent skip: `make test` builds it
        pytest.fail(f"{ENGINES_PYTHON} is missing: `make test` builds the other engines' virtualenv")
    return ENGINES_PYTHON


@pytest.fixture
def people(lake: Lake) -> Lake:
    """`people` in two versions, the second adding a column."""
    ingest_csv(io.BytesIO(V1), "people", lake=lake, limits=IngestLimits())
    ingest_csv(io.BytesIO(V2), "people", lake=lake, limits=IngestLimits(), evolve=SchemaEvolution.ADDITIVE)
    return lake


def read_with(
    python: Path, engine: str, lake: Lake, table: str = "people", group: str = "role", timeout: float = 240
) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    done = subprocess.run(
        [str(python), str(READER), engine, lake.catalog.uri, table, group],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=READER.parent,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def expected_groups(lake: Lake, table: str = "people", group: str = "role") -> list[list[Any]]:
    engine = SqlEngine(lake.catalog, refresh_seconds=0)
    try:
        return engine.query(f"SELECT {group}, count(*) FROM {table} GROUP BY 1 ORDER BY 1").rows
    finally:
        engine.close()


def test_the_project_code_is_not_on_the_engines_path(engines_python: Path) -> None:
    done = subprocess.run(
        [str(engines_python), "-c", "import lakehouse_assets"], capture_output=True, text=True, cwd=READER.parent
    )
    assert done.returncode != 0 and "No module named 'lakehouse_assets'" in done.stderr


def test_pyiceberg_reads_the_live_version_and_travels_to_the_first(engines_python: Path, people: Lake) -> None:
    found = read_with(engines_python, "pyiceberg", people)
    assert found["rows"] == 5 and found["columns"] == ["id", "role", "city"]
    assert found["groups"] == expected_groups(people)
    assert found["first_snapshot_rows"] == 3  # version 1, as `people__v1` has it
    assert found["snapshots"] == people.catalog.get("people").version == 2


def test_duckdb_iceberg_scan_reads_what_the_catalog_points_at(engines_python: Path, people: Lake) -> None:
    found = read_with(engines_python, "duckdb", people)
    assert found["version"] == "1.5.5"
    assert found["rows"] == 5 and found["columns"] == ["id", "role", "city"]
    assert found["groups"] == expected_groups(people)


def test_ray_data_on_a_local_ray_cluster_reads_the_table(engines_python: Path, people: Lake) -> None:
    found = read_with(engines_python, "ray", people)
    assert found["ray_nodes"] == 1
    assert found["rows"] == 5 and found["columns"] == ["id", "role", "city"]
    assert found["groups"] == expected_groups(people)


@pytest.mark.parametrize("engine", ["pyiceberg", "duckdb"])
def test_a_day_partitioned_table_reads_the_same_everywhere(engines_python: Path, lake: Lake, engine: str) -> None:
    conn = duckdb.connect()
    for day, ids in [("2026-11-20", ["a", "b"]), ("2026-11-21", ["c"]), ("2026-11-20", ["a", "b", "d"])]:
        rows = pa.table({"day": [day] * len(ids), "id": ids})
        replace_day(conn, "scores", day, rows, order_by=["id"], lake=lake)
    found = read_with(engines_python, engine, lake, table="scores", group="day")
    assert found["rows"] == 4 and found["groups"] == expected_groups(lake, "scores", "day") == [
        ["2026-11-20", 3],
        ["2026-11-21", 1],
    ]
