"""Day tables are Iceberg tables partitioned by day: writing a day replaces exactly its own file."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from pyiceberg.expressions import EqualTo
from pyiceberg.transforms import IdentityTransform

from lakehouse_assets.core.lake.catalog import Catalog, SchemaConflict
from lakehouse_assets.core.lake.derived import read_day, register_table, replace_day
from lakehouse_assets.core.lake.handle import Lake
from lakehouse_assets.core.lake.maintenance import compact
from lakehouse_assets.core.settings import LakehouseSettings


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake.open(LakehouseSettings(_env_file=None, home=tmp_path))


def day_rows(day: str, ids: list[str]) -> pa.Table:
    schema = pa.schema([("day", pa.string()), ("id", pa.string()), ("score", pa.float64())])
    return pa.table({"day": [day] * len(ids), "id": ids, "score": [float(len(i)) for i in ids]}, schema=schema)


def write(lake: Lake, day: str, ids: list[str]):
    return replace_day(duckdb.connect(), "scores", day, day_rows(day, ids), order_by=["id"], lake=lake)


def everything(lake: Lake, name: str = "scores") -> list[tuple]:
    conn = duckdb.connect()
    lake.mount_live(conn, name)
    return conn.sql(f"SELECT day, id FROM {name} ORDER BY ALL").fetchall()


def test_a_day_replaces_its_own_file_and_no_other(lake: Lake) -> None:
    first = write(lake, "2026-11-20", ["a", "b"]).manifest
    second = write(lake, "2026-11-21", ["c"]).manifest
    [day_20] = first.data_files
    [day_21] = set(second.data_files) - {day_20}  # the first day's file stays as it was
    assert second.row_count == 3

    third = write(lake, "2026-11-20", ["a"]).manifest
    assert third.version == 3 and third.row_count == 2
    assert day_21 in third.data_files and day_20 not in third.data_files and len(third.data_files) == 2
    again = read_day(duckdb.connect(), "scores", "2026-11-21", order_by=["id"], lake=lake)
    assert again.column("id").to_pylist() == ["c"]
    assert everything(lake) == [("2026-11-20", "a"), ("2026-11-21", "c")]

    # the same rows again: no new version; an empty day keeps its partition, with no rows
    assert write(lake, "2026-11-20", ["a"]).created is False
    empty = write(lake, "2026-11-21", []).manifest
    assert everything(lake) == [("2026-11-20", "a")] and empty.row_count == 1


def test_the_table_is_partitioned_by_day_for_every_engine(lake: Lake) -> None:
    for day in ("2026-11-20", "2026-11-21", "2026-11-22"):
        write(lake, day, ["a", "b"])
    table = Catalog(lake.storage).table("scores")
    [field] = table.spec().fields
    assert isinstance(field.transform, IdentityTransform)
    assert table.schema().find_field(field.source_id).name == "day"
    scan = table.scan(row_filter=EqualTo("day", "2026-11-21"))
    assert len(list(scan.plan_files())) == 1  # the other days' files are pruned by partition
    assert scan.to_arrow().column("day").to_pylist() == ["2026-11-21", "2026-11-21"]


def test_history_and_name_vn_read_each_version(lake: Lake) -> None:
    write(lake, "2026-11-20", ["a"])
    write(lake, "2026-11-21", ["b"])
    write(lake, "2026-11-20", ["z"])
    reopened = Catalog(lake.storage).get("scores")  # rebuilt from the snapshots alone
    assert [v.row_count for v in reopened.versions] == [1, 2, 2]
    conn = duckdb.connect()
    for v in reopened.versions:
        lake.mount(conn, f"v{v.version}", v.data_files)
    assert conn.sql("SELECT id FROM v2 ORDER BY id").fetchall() == [("a",), ("b",)]
    assert conn.sql("SELECT id FROM v3 ORDER BY id").fetchall() == [("b",), ("z",)]
    assert len({v.content_hash for v in reopened.versions}) == 3


def test_a_table_written_before_partitions_is_split_by_day_once(lake: Lake) -> None:
    conn = duckdb.connect()
    old = pa.concat_tables([day_rows("2026-11-20", ["a", "b"]), day_rows("2026-11-21", ["c"])])
    first = register_table(conn, "scores", old, lake=lake).manifest
    assert len(first.data_files) == 1 and not Catalog(lake.storage).table("scores").spec().fields

    second = write(lake, "2026-11-22", ["d"]).manifest
    assert len(second.data_files) == 3  # one per day
    assert everything(lake) == [("2026-11-20", "a"), ("2026-11-20", "b"), ("2026-11-21", "c"), ("2026-11-22", "d")]
    assert Catalog(lake.storage).table("scores").spec().fields
    third = write(lake, "2026-11-21", ["e"]).manifest
    assert len(set(second.data_files) & set(third.data_files)) == 2
    conn = duckdb.connect()
    lake.mount(conn, "v1", first.data_files)  # the version from before is still readable
    assert conn.sql("SELECT count(*) FROM v1").fetchall() == [(3,)]


def test_a_day_with_another_schema_is_refused_and_leaves_nothing(lake: Lake) -> None:
    write(lake, "2026-11-20", ["a"])
    files = set(p.name for p in (lake.storage.local_path("datasets/scores") or Path()).iterdir())
    bad = pa.table({"day": ["2026-11-21"], "id": [1]})
    with pytest.raises(SchemaConflict):
        replace_day(duckdb.connect(), "scores", "2026-11-21", bad, order_by=["id"], lake=lake)
    assert set(p.name for p in lake.storage.local_path("datasets/scores").iterdir()) == files
    assert everything(lake) == [("2026-11-20", "a")]


def test_compaction_keeps_a_file_per_day(lake: Lake) -> None:
    write(lake, "2026-11-20", ["a"])
    files = write(lake, "2026-11-21", ["b"]).manifest.data_files
    assert compact(lake) == []
    assert Catalog(lake.storage).get("scores").data_files == files
