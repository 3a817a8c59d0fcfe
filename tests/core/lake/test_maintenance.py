"""Lake maintenance: compaction keeps a version's rows under its number in one file; expiry keeps the newest
versions the retention setting promises and deletes only what no kept snapshot references."""

from __future__ import annotations

import io

import pyarrow as pa

from lakehouse_assets.core.ingest.csv import IngestLimits, ingest_csv
from lakehouse_assets.core.lake.handle import Lake
from lakehouse_assets.core.lake.maintenance import compact, expire
from lakehouse_assets.core.sql.engine import SqlEngine


def put(lake: Lake, rows: int, start: int = 0) -> None:
    body = "id,role\n" + "".join(f"{i},{'welder' if i % 2 else 'cook'}\n" for i in range(start, start + rows))
    ingest_csv(io.BytesIO(body.encode()), "people", lake=lake, limits=IngestLimits())


def counts(lake: Lake, *views: str) -> dict[str, int]:
    engine = SqlEngine(lake.catalog, refresh_seconds=0)
    try:
        return {v: engine.query(f"SELECT count(*) FROM {v}").rows[0][0] for v in views}
    finally:
        engine.close()


def append_elsewhere(lake: Lake, ids: range) -> None:
    """Another engine appends a batch to the table (one more data file in the snapshot, no lakehouse.* summary)."""
    table = lake.catalog.table("people")
    schema = pa.schema([pa.field("id", pa.int64()), pa.field("role", pa.string())])
    table.append(pa.table({"id": list(ids), "role": ["driver"] * len(ids)}, schema=schema))


def lake_keys(lake: Lake) -> set[str]:
    return {o.key for o in lake.storage.list("datasets/")} | {o.key for o in lake.storage.list("tables/")}


def test_compaction_rewrites_a_many_file_version_into_one_under_the_same_number(lake: Lake) -> None:
    put(lake, 10)
    append_elsewhere(lake, range(100, 104))
    append_elsewhere(lake, range(200, 205))
    lake.catalog.refresh()
    before = lake.catalog.get("people")
    assert [len(v.data_files) for v in before.versions] == [1, 2, 3]
    assert counts(lake, "people", "people__v1", "people__v2") == {"people": 19, "people__v1": 10, "people__v2": 14}

    (done,) = compact(lake)
    assert (done.name, done.version, done.files_before, done.files_after) == ("people", 3, 3, 1)
    assert done.bytes_before > done.bytes_after > 0

    after = lake.catalog.get("people")
    assert [v.version for v in after.versions] == [1, 2, 3]
    assert len(after.data_files) == 1 and after.current.content_hash == before.current.content_hash
    assert counts(lake, "people", "people__v1", "people__v2") == {"people": 19, "people__v1": 10, "people__v2": 14}
    assert compact(lake) == []  # nothing left to compact

    # Expiry with nothing to drop still reclaims what compaction superseded, and keeps every version.
    (expired,) = expire(lake, keep=0)
    assert (expired.versions_before, expired.versions_after) == (3, 3)
    assert (expired.snapshots_before, expired.snapshots_after) == (4, 3)
    assert expired.files_deleted > 0 and expired.bytes_reclaimed > 0
    assert [v.version for v in lake.catalog.get("people").versions] == [1, 2, 3]
    assert counts(lake, "people", "people__v1", "people__v2") == {"people": 19, "people__v1": 10, "people__v2": 14}


def test_expiry_keeps_the_newest_versions_and_deletes_only_unreferenced_files(lake: Lake) -> None:
    for v in range(5):
        put(lake, 3 + v, start=10 * v)
    manifest = lake.catalog.get("people")
    old_files = {key for v in manifest.versions[:3] for key in v.data_files}
    kept_files = {key for v in manifest.versions[3:] for key in v.data_files}
    keys_before = lake_keys(lake)

    (done,) = expire(lake, keep=2)
    assert (done.versions_before, done.versions_after, done.snapshots_before, done.snapshots_after) == (5, 2, 5, 2)
    after = lake.catalog.get("people")
    assert [v.version for v in after.versions] == [4, 5]
    keys_after = lake_keys(lake)
    assert old_files.isdisjoint(keys_after) and kept_files <= keys_after
    assert done.files_deleted == len(keys_before - keys_after) and done.bytes_reclaimed > 0

    engine = SqlEngine(lake.catalog, refresh_seconds=0)
    try:
        assert "people__v1" not in engine.views and {"people", "people__v4", "people__v5"} <= set(engine.views)
        assert engine.query("SELECT count(*) FROM people__v4").rows == [[6]]
    finally:
        engine.close()

    put(lake, 2, start=500)  # the numbering goes on
    assert lake.catalog.get("people").version == 6
    assert expire(lake, keep=0) == []


def test_expiry_never_deletes_a_file_a_kept_version_shares(lake: Lake) -> None:
    put(lake, 3)
    put(lake, 4)
    put(lake, 3)  # the first content again: v3 reuses v1's content-addressed file
    manifest = lake.catalog.get("people")
    assert manifest.versions[0].data_files == manifest.versions[2].data_files

    expire(lake, keep=1)
    assert lake.storage.exists(manifest.versions[2].object_key)
    assert counts(lake, "people") == {"people": 3}
