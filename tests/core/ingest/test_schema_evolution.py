"""Additive schema evolution, opted into per ingest: a CSV may add columns after the live ones (a new
version whose history says which); every other change stays a SchemaConflict that touches nothing."""

from __future__ import annotations

import io
import json

import duckdb
import pyarrow.parquet as pq
import pytest

from lakehouse_assets.core.ingest.csv import IngestLimits, ingest_csv
from lakehouse_assets.core.lake.catalog import ADDITIVE_ONLY, Catalog, Manifest, SchemaConflict, SchemaEvolution
from lakehouse_assets.core.lake.handle import Lake
from lakehouse_assets.core.lake.register import IngestResult
from lakehouse_assets.core.sql.engine import SqlEngine

V1 = b"id,name\n1,ann\n2,bob\n"
ADDITIVE = SchemaEvolution.ADDITIVE


def put(lake: Lake, data: bytes, evolve: SchemaEvolution = SchemaEvolution.NONE) -> IngestResult:
    return ingest_csv(io.BytesIO(data), "people", lake=lake, limits=IngestLimits(), evolve=evolve)


def test_new_columns_after_the_live_ones_make_a_version_that_says_what_it_added(lake: Lake):
    first = put(lake, V1).manifest
    second = put(lake, b"id,name,rate,zip\n3,cy,21.5,\n4,di,,60601\n", ADDITIVE).manifest
    assert [(c.name, c.type) for c in second.schema] == [
        ("id", "BIGINT"),
        ("name", "VARCHAR"),
        ("rate", "DOUBLE"),
        ("zip", "VARCHAR"),
    ]  # fmt: skip  (a zip code stays text: inference keeps leading zeros)
    assert second.version == 2 and second.fingerprint != first.fingerprint
    assert second.current.columns_added == ("rate", "zip") and second.versions[0].columns_added == ()
    assert second.dataset_id == first.dataset_id
    # the old version keeps its own object and schema; SQL sees both
    assert pq.read_schema(lake.storage.local_path(first.object_key)).names == ["id", "name"]
    engine = SqlEngine(lake.catalog, refresh_seconds=0)
    try:
        assert engine.query("SELECT id, rate, zip FROM people ORDER BY id").rows == [
            [3, 21.5, None],
            [4, None, "60601"],
        ]
        assert engine.query("SELECT * FROM people__v1 ORDER BY id").rows == [[1, "ann"], [2, "bob"]]
    finally:
        engine.close()
    # the manifest on storage round-trips, and one written before the field existed still loads
    again = Catalog(lake.storage).get("people")
    assert again == second
    old = json.loads(json.dumps(first.to_dict()))
    for v in old["versions"]:
        v.pop("columns_added")
    assert Manifest.from_dict(old) == first


def test_without_the_opt_in_a_new_column_is_still_a_conflict(lake: Lake):
    put(lake, V1)
    with pytest.raises(SchemaConflict) as e:
        put(lake, b"id,name,rate\n3,cy,1.5\n")
    assert ADDITIVE_ONLY not in str(e.value)
    assert lake.catalog.get("people").version == 1


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"id\n3\n", "drops a column"),
        (b"name,id,rate\ncy,3,1.5\n", "reorders the live columns"),
        (b"id,full_name,rate\n3,cy,1.5\n", "renames a column"),
        (b"id,name,rate\nx3,cy,1.5\n", "retypes a live column"),
        (b"rate,id,name\n1.5,3,cy\n", "adds before the live columns"),
    ],
)
def test_additive_evolution_refuses_every_other_change_and_keeps_the_live_version(lake: Lake, data: bytes, why: str):
    live = put(lake, V1).manifest
    objects = sorted(o.key for o in lake.storage.list())
    with pytest.raises(SchemaConflict) as e:
        put(lake, data, ADDITIVE)
    assert "schema drift" in str(e.value), why
    assert lake.catalog.get("people") == live and sorted(o.key for o in lake.storage.list()) == objects, why


def test_a_new_column_widens_within_its_file_while_the_live_ones_keep_their_types(lake: Lake):
    put(lake, V1)
    rows = b"".join(b"%d,w%d,%d\n" % (i, i, i) for i in range(3, 60000)) + b"60000,last,n/a\n"
    manifest = put(lake, b"id,name,code\n" + rows, ADDITIVE).manifest
    assert {c.name: c.type for c in manifest.schema} == {"id": "BIGINT", "name": "VARCHAR", "code": "VARCHAR"}
    con = duckdb.connect()
    lake.mount(con, "p", manifest.object_key)
    assert con.sql("SELECT code FROM p WHERE id = 60000").fetchall() == [("n/a",)]


def test_the_same_content_again_is_a_noop_under_evolution_too(lake: Lake):
    put(lake, V1)
    body = b"id,name,rate\n3,cy,1.5\n"
    assert put(lake, body, ADDITIVE).created is True
    again = put(lake, body, ADDITIVE)
    assert again.created is False and again.manifest.version == 2
