"""The catalog: Iceberg tables behind manifests, fingerprints, version history, conflicts, restarts,
damaged tables and racing processes."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import multiprocessing
import traceback
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse_assets.core.lake import iceberg
from lakehouse_assets.core.lake.catalog import (
    DATASET_NAMESPACE,
    Catalog,
    Column,
    DatasetNotFound,
    DatasetVersion,
    InvalidDatasetName,
    Manifest,
    RegisterResult,
    SchemaConflict,
    dataset_id_for,
    format_schema,
    schema_fingerprint,
    validate_dataset_name,
)
from lakehouse_assets.core.lake.handle import Lake
from lakehouse_assets.core.lake.storage import CATALOG_DB, LakeStorage, LocalStorage

SCHEMA = (Column("id", "int64"), Column("name", "string"))
RETYPED = (Column("id", "int64"), Column("name", "int64"))
REORDERED = (Column("name", "string"), Column("id", "int64"))

# -- helpers ---------------------------------------------------------------------------------------


def object_key_for(name: str, content_hash: str) -> str:
    return f"datasets/{name}/{content_hash}.parquet"


def write_parquet(storage: LakeStorage, key: str, schema: Sequence[Column], rows: int) -> None:
    """A real Parquet file of `rows` rows at `key` (the catalog reads its footer); types are Arrow aliases."""
    arrow = pa.schema([(c.name, pa.type_for_alias(c.type)) for c in schema])
    table = pa.Table.from_pylist([{} for _ in range(rows)], schema=arrow)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    storage.put_bytes(key, buffer.getvalue())


def register(
    catalog: Catalog,
    name: str,
    content_hash: str,
    schema: Sequence[Column] = SCHEMA,
    rows: int = 3,
) -> RegisterResult:
    key = object_key_for(name, content_hash)
    try:
        validate_dataset_name(name)  # the catalog must refuse a bad name itself: no file is written for one
    except InvalidDatasetName:
        pass
    else:
        if not catalog.storage.exists(key):
            write_parquet(catalog.storage, key, schema, rows)
    return catalog.register(
        name,
        schema,
        object_key=key,
        content_hash=content_hash,
        row_count=rows,
        byte_size=1000 + rows,
        source=f"test:{content_hash}",
    )


def snapshot_versions(catalog: Catalog, name: str) -> list[int]:
    """The version number of every snapshot the table holds, as Iceberg has it (not the project's cache)."""
    table = catalog.table(name)
    return [int(s.summary["lakehouse.version"]) for s in table.snapshots()]


def catalog_state(catalog: Catalog) -> tuple[dict[str, str], list[str]]:
    """Where every table's metadata is, and every metadata object in the lake: what a commit changes."""
    metadata = sorted(o.key for o in catalog.storage.list(iceberg.TABLES_PREFIX))
    return iceberg.metadata_locations(catalog.iceberg), metadata


def read_back(storage: LakeStorage, name: str) -> Manifest:
    """Dataset `name` as a new catalog instance reads it from Iceberg."""
    return Catalog(storage).get(name)


def parse_timestamp(ts: str) -> datetime:
    assert ts.endswith("Z"), ts
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


# -- registration ----------------------------------------------------------------------------------


def test_register_creates_version_1_with_the_uuid5_dataset_id(storage: LakeStorage) -> None:
    catalog = Catalog(storage)
    result = register(catalog, "staff", "h1", rows=7)

    m = result.manifest
    assert result.created is True
    assert m.name == "staff"
    assert m.version == 1
    assert m.dataset_id == dataset_id_for("staff") == str(uuid.uuid5(DATASET_NAMESPACE, "staff"))
    assert uuid.UUID(m.dataset_id).version == 5
    assert m.schema == SCHEMA
    assert m.fingerprint == schema_fingerprint(SCHEMA)
    assert (m.object_key, m.row_count, m.byte_size) == (object_key_for("staff", "h1"), 7, 1007)
    snapshot_id = catalog.table("staff").metadata.current_snapshot().snapshot_id
    key = object_key_for("staff", "h1")
    assert m.versions == (
        DatasetVersion(1, key, "h1", 7, 1007, m.created_at, "test:h1", snapshot_id=snapshot_id, files=(key,)),
    )
    assert m.created_at == m.updated_at
    parse_timestamp(m.created_at)

    assert snapshot_versions(catalog, "staff") == [1]
    assert read_back(storage, "staff") == m
    assert catalog.get("staff") == m
    assert catalog.find("staff") == m
    assert catalog.list() == [m]


def test_dataset_id_is_pinned_and_the_same_for_every_instance(storage: LakeStorage) -> None:
    # Every dataset_id ever issued depends on the namespace: it must never change.
    assert dataset_id_for("staff") == "cacf07ee-25f6-5c19-b5a7-dcf8dd77d3cc"
    first = register(Catalog(storage), "staff", "h1").manifest
    assert first.dataset_id == "cacf07ee-25f6-5c19-b5a7-dcf8dd77d3cc"
    assert Catalog(storage).get("staff").dataset_id == first.dataset_id
    assert register(Catalog(storage), "staff", "h2").manifest.dataset_id == first.dataset_id
    assert dataset_id_for("staff_b") != first.dataset_id


def test_register_identical_content_is_a_noop(storage: LakeStorage) -> None:
    catalog = Catalog(storage)
    first = register(catalog, "staff", "same-hash").manifest
    before = catalog_state(catalog)

    again = catalog.register(
        "staff",
        SCHEMA,
        object_key="datasets/staff/elsewhere.parquet",
        content_hash="same-hash",
        row_count=3,
        byte_size=1003,
    )
    assert again.created is False
    assert again.manifest == first
    assert catalog_state(catalog) == before  # no new snapshot, no metadata written
    assert Catalog(storage).get("staff").version == 1


def test_register_new_content_same_schema_adds_version_2_and_keeps_history(storage: LakeStorage) -> None:
    catalog = Catalog(storage)
    v1 = register(catalog, "staff", "h1", rows=3).manifest
    v1_metadata = {o.key: storage.get_bytes(o.key) for o in storage.list(iceberg.TABLES_PREFIX)}

    result = register(catalog, "staff", "h2", rows=5)
    v2 = result.manifest
    assert result.created is True
    assert v2.version == 2
    assert [v.version for v in v2.versions] == [1, 2]
    assert v2.versions[0] == v1.versions[0]  # history keeps v1 with its object key
    assert v2.versions[0].object_key == object_key_for("staff", "h1")
    assert (v2.object_key, v2.row_count) == (object_key_for("staff", "h2"), 5)
    assert v2.dataset_id == v1.dataset_id
    assert v2.fingerprint == v1.fingerprint
    assert v2.created_at == v1.created_at
    assert v2.updated_at == v2.versions[1].created_at
    assert parse_timestamp(v2.updated_at) >= parse_timestamp(v1.updated_at)

    assert snapshot_versions(catalog, "staff") == [1, 2]
    for key, body in v1_metadata.items():  # nothing written for v1 is overwritten
        assert storage.get_bytes(key) == body
    assert read_back(storage, "staff") == v2
    assert catalog.get("staff") == v2


def test_register_earlier_content_again_is_a_new_version_not_a_noop(storage: LakeStorage) -> None:
    catalog = Catalog(storage)
    register(catalog, "staff", "h1")
    register(catalog, "staff", "h2")
    reverted = register(catalog, "staff", "h1")
    assert reverted.created is True
    assert [(v.version, v.content_hash) for v in reverted.manifest.versions] == [(1, "h1"), (2, "h2"), (3, "h1")]


@pytest.mark.parametrize(
    ("new_schema", "described"),
    [
        pytest.param(RETYPED, "(id int64, name int64)", id="type-changed"),
        pytest.param(REORDERED, "(name string, id int64)", id="columns-reordered"),
        pytest.param((*SCHEMA, Column("city", "string")), "(id int64, name string, city string)", id="added"),
        pytest.param(SCHEMA[:1], "(id int64)", id="dropped"),
    ],
)
def test_register_different_schema_raises_conflict_naming_both_and_changes_nothing(
    storage: LakeStorage, new_schema: tuple[Column, ...], described: str
) -> None:
    catalog = Catalog(storage)
    register(catalog, "staff", "h1")
    live = register(catalog, "staff", "h2").manifest
    before = catalog_state(catalog)

    with pytest.raises(SchemaConflict) as err:
        register(catalog, "staff", "h3", schema=new_schema)

    message = str(err.value)
    assert "'staff'" in message
    assert "live schema (id int64, name string)" in message
    assert f"new schema {described}" in message
    assert err.value.name == "staff"
    assert err.value.live == SCHEMA
    assert err.value.new == tuple(new_schema)
    assert catalog_state(catalog) == before  # the live table and every metadata file are untouched
    assert catalog.get("staff") == live
    assert Catalog(storage).get("staff") == live


def test_schema_conflict_is_raised_even_for_content_already_live(storage: LakeStorage) -> None:
    catalog = Catalog(storage)
    register(catalog, "staff", "h1")
    with pytest.raises(SchemaConflict):
        register(catalog, "staff", "h1", schema=RETYPED)
    assert snapshot_versions(catalog, "staff") == [1]


def test_check_reports_a_conflict_without_registering(storage: LakeStorage) -> None:
    catalog = Catalog(storage)
    assert catalog.check("staff", SCHEMA) is None
    live = register(catalog, "staff", "h1").manifest
    assert catalog.check("staff", SCHEMA) == live
    with pytest.raises(SchemaConflict, match=r"\(id int64, name int64\)"):
        catalog.check("staff", RETYPED)
    assert snapshot_versions(catalog, "staff") == [1]


def test_datasets_whose_names_share_a_prefix_stay_separate(storage: LakeStorage) -> None:
    catalog = Catalog(storage)
    register(catalog, "staff", "a1")
    register(catalog, "staff_b", "b1", schema=RETYPED)
    register(catalog, "staff_b", "b2", schema=RETYPED)
    register(catalog, "staff", "a2")  # not confused by staff_b's versions or schema
    assert catalog.get("staff").version == 2
    assert catalog.get("staff_b").version == 2
    assert snapshot_versions(catalog, "staff") == [1, 2]
    assert [m.name for m in catalog.list()] == ["staff", "staff_b"]


def test_get_of_an_unknown_dataset_raises_dataset_not_found(catalog: Catalog) -> None:
    with pytest.raises(DatasetNotFound) as err:
        catalog.get("nope")
    assert isinstance(err.value, KeyError)
    assert str(err.value) == "no dataset named 'nope'"
    assert catalog.find("nope") is None


# -- dataset names ---------------------------------------------------------------------------------

BAD_NAMES = [
    pytest.param("", id="empty"),
    pytest.param("Staff", id="uppercase"),
    pytest.param("STAFF", id="all-uppercase"),
    pytest.param("1staff", id="leading-digit"),
    pytest.param("_staff", id="leading-underscore"),
    pytest.param("a" * 64, id="64-chars-too-long"),
    pytest.param("x__v2", id="version-suffix"),
    pytest.param("staff__v10", id="version-suffix-2-digits"),
    pytest.param("../x", id="path-traversal"),
    pytest.param("a/b", id="slash"),
    pytest.param("a-b", id="hyphen"),
    pytest.param("a b", id="space"),
    pytest.param("staff\n", id="trailing-newline"),
    pytest.param("café", id="non-ascii"),
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_invalid_dataset_names_raise_and_write_nothing(lake: Lake, catalog: Catalog, name: str) -> None:
    with pytest.raises(InvalidDatasetName, match="invalid dataset name"):
        validate_dataset_name(name)
    with pytest.raises(InvalidDatasetName):
        register(catalog, name, "h1")
    with pytest.raises(InvalidDatasetName):
        catalog.live(name)
    assert [o.key for o in lake.storage.list() if o.key != CATALOG_DB] == []
    assert iceberg.metadata_locations(catalog.iceberg) == {}


def test_version_suffix_message_explains_the_reservation() -> None:
    with pytest.raises(InvalidDatasetName, match=r"'__v<N>' is reserved"):
        validate_dataset_name("x__v2")


def test_non_string_dataset_name_is_invalid() -> None:
    with pytest.raises(InvalidDatasetName):
        validate_dataset_name(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["a", "a" * 63, "staff_2024", "x__v", "x_v2", "x__vv2", "x__v2_y"])
def test_valid_dataset_names_are_accepted(catalog: Catalog, name: str) -> None:
    assert validate_dataset_name(name) == name
    assert register(catalog, name, "h1").manifest.name == name


# -- schema fingerprint ----------------------------------------------------------------------------


def test_fingerprint_is_sha256_over_names_and_types_in_order() -> None:
    expected = hashlib.sha256(b"id\x1fint64\x1ename\x1fstring\x1e").hexdigest()
    assert schema_fingerprint(SCHEMA) == expected


def test_fingerprint_changes_with_column_order() -> None:
    assert schema_fingerprint(SCHEMA) != schema_fingerprint(REORDERED)


def test_fingerprint_changes_with_column_type() -> None:
    assert schema_fingerprint(SCHEMA) != schema_fingerprint(RETYPED)


def test_fingerprint_changes_with_column_name_or_count() -> None:
    assert schema_fingerprint(SCHEMA) != schema_fingerprint((Column("id", "int64"), Column("nom", "string")))
    assert schema_fingerprint(SCHEMA) != schema_fingerprint(SCHEMA[:1])
    assert schema_fingerprint(()) != schema_fingerprint(SCHEMA)


def test_fingerprint_depends_only_on_the_schema(storage: LakeStorage) -> None:
    catalog = Catalog(storage)
    a = register(catalog, "alpha", "h1", rows=1).manifest
    b = register(catalog, "beta", "h2", rows=99_999).manifest
    c = register(catalog, "alpha", "h3", rows=5).manifest
    assert a.fingerprint == b.fingerprint == c.fingerprint == schema_fingerprint(SCHEMA)
    assert schema_fingerprint(list(SCHEMA)) == schema_fingerprint(SCHEMA)
    rebuilt = tuple(Column(str(c.name), str(c.type)) for c in SCHEMA)
    assert schema_fingerprint(rebuilt) == schema_fingerprint(SCHEMA)


def test_fingerprint_names_containing_commas_cannot_collide() -> None:
    assert schema_fingerprint([Column("a,b", "X")]) != schema_fingerprint([Column("a", "b,X")])
    assert schema_fingerprint([Column("a", "X"), Column("b", "Y")]) != schema_fingerprint([Column("a,X,b", "Y")])


@pytest.mark.parametrize(
    ("left", "right"),
    [
        pytest.param(
            [Column("a\x1fint64\x1eb", "int64")],
            [Column("a", "int64"), Column("b", "int64")],
            id="record-separator-in-name",
        ),
        pytest.param([Column("a\x1fb", "X")], [Column("a", "b\x1fX")], id="unit-separator-in-name"),
        pytest.param([Column("a\x1b", "\x1fX")], [Column("a", "\x1b\x1fX")], id="escape-char-in-name"),
    ],
)
def test_fingerprint_names_containing_separator_characters_cannot_collide(
    left: list[Column], right: list[Column]
) -> None:
    assert schema_fingerprint(left) != schema_fingerprint(right)


def test_format_schema_lists_columns_in_order() -> None:
    assert format_schema(SCHEMA) == "(id int64, name string)"
    assert format_schema(()) == "()"


# -- restart and sharing ---------------------------------------------------------------------------


def test_restart_a_new_catalog_rebuilds_the_same_manifests_from_storage(storage: LakeStorage) -> None:
    catalog = Catalog(storage)
    register(catalog, "staff", "a1")
    register(catalog, "staff", "a2")
    register(catalog, "rates", "r1", schema=RETYPED)
    register(catalog, "zones", "z1")
    before = catalog.list()

    restarted = Catalog(storage)
    assert restarted.list() == before
    assert [m.name for m in restarted.list()] == ["rates", "staff", "zones"]
    assert restarted.get("staff").version == 2
    assert register(restarted, "staff", "a3").manifest.version == 3


def test_a_second_instance_sees_another_instances_registration_after_refresh(storage: LakeStorage) -> None:
    writer = Catalog(storage)
    reader = Catalog(storage)

    v1 = register(writer, "staff", "h1").manifest
    assert reader.find("staff") is None  # cached until refreshed
    assert reader.refresh() is True
    assert reader.get("staff") == v1
    assert reader.refresh() is False  # nothing changed since

    v2 = register(writer, "staff", "h2").manifest
    assert reader.get("staff") == v1
    assert reader.refresh() is True
    assert reader.get("staff") == v2


def test_refresh_forgets_a_dataset_whose_table_was_dropped(storage: LakeStorage) -> None:
    catalog = Catalog(storage)
    register(catalog, "staff", "h1")
    register(catalog, "keep", "k1")
    Catalog(storage).iceberg.drop_table(iceberg.identifier("staff"))  # another engine drops it
    assert catalog.refresh() is True
    assert catalog.find("staff") is None
    assert [m.name for m in catalog.list()] == ["keep"]


def test_registration_by_the_same_instance_during_refresh_is_not_lost(
    local_storage: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refresh that listed the catalog before a concurrent register must not roll the cache back."""
    catalog = Catalog(local_storage)
    register(catalog, "staff", "h1")
    listed = iceberg.metadata_locations

    def register_mid_listing(sql_catalog: Any) -> dict[str, str]:
        listing = listed(sql_catalog)
        monkeypatch.setattr(iceberg, "metadata_locations", listed)
        register(catalog, "staff", "h2")  # another thread of this process, mid-refresh
        register(catalog, "fresh", "f1")
        return listing

    monkeypatch.setattr(iceberg, "metadata_locations", register_mid_listing)
    catalog.refresh()
    assert catalog.get("staff").version == 2
    assert catalog.get("fresh").version == 1


# -- damaged tables --------------------------------------------------------------------------------

CORRUPT_BODIES = [
    pytest.param(b'{"format-version": 2, "table-uuid": ', id="torn-json"),
    pytest.param(b"", id="empty"),
    pytest.param(b"\xff\xfe\x00garbage", id="not-utf8"),
    pytest.param(b"[]", id="json-list"),
    pytest.param(b"null", id="json-null"),
    pytest.param(b'{"format-version": 2}', id="missing-fields"),
]


@pytest.mark.parametrize("body", CORRUPT_BODIES)
def test_a_table_whose_metadata_is_damaged_is_skipped_and_never_written_over(
    storage: LakeStorage, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    catalog = Catalog(storage)
    register(catalog, "staff", "h1")
    keep = register(catalog, "keep", "k1").manifest
    location = iceberg.metadata_locations(catalog.iceberg)["staff"]
    key = storage.key_at(location)
    assert key is not None
    storage.put_bytes(key, body)

    with caplog.at_level(logging.WARNING, logger="lakehouse_assets.core.lake.catalog"):
        restarted = Catalog(storage)
    assert restarted.list() == [keep]
    assert "skipping table staff" in caplog.text

    with pytest.raises(iceberg.UnreadableTable, match="'staff'"):
        register(restarted, "staff", "h2")
    assert storage.get_bytes(key) == body
    assert iceberg.metadata_locations(restarted.iceberg)["staff"] == location
    assert register(restarted, "keep", "k2").manifest.version == 2


def test_objects_beside_the_tables_are_ignored(storage: LakeStorage) -> None:
    catalog = Catalog(storage)
    live = register(catalog, "staff", "h1").manifest
    storage.put_bytes("tables/staff/notes.txt", b"hello")
    storage.put_bytes("tables/Bad/metadata/v1.metadata.json", b"{}")
    storage.put_bytes("tables/README", b"x")
    restarted = Catalog(storage)
    assert restarted.list() == [live]
    assert register(restarted, "staff", "h2").manifest.version == 2


# -- manifest serialisation ------------------------------------------------------------------------


def sample_manifest() -> Manifest:
    return Manifest(
        name="staff",
        dataset_id=dataset_id_for("staff"),
        schema=SCHEMA,
        fingerprint=schema_fingerprint(SCHEMA),
        versions=(
            DatasetVersion(1, "datasets/staff/a.parquet", "a", 10, 1234, "2024-01-01T00:00:00.000Z", "upload"),
            DatasetVersion(2, "datasets/staff/b.parquet", "b", 12, 1500, "2024-01-02T00:00:00.000Z"),
        ),
    )


def test_manifest_to_dict_from_dict_round_trips() -> None:
    m = sample_manifest()
    assert Manifest.from_dict(m.to_dict()) == m
    assert Manifest.from_dict(json.loads(json.dumps(m.to_dict()))) == m


def test_manifest_to_dict_carries_the_current_version_summary() -> None:
    d = sample_manifest().to_dict()
    assert d["schema"] == [{"name": "id", "type": "int64"}, {"name": "name", "type": "string"}]
    assert (d["version"], d["object_key"], d["row_count"], d["byte_size"]) == (
        2,
        "datasets/staff/b.parquet",
        12,
        1500,
    )
    assert (d["created_at"], d["updated_at"]) == ("2024-01-01T00:00:00.000Z", "2024-01-02T00:00:00.000Z")
    assert [v["version"] for v in d["versions"]] == [1, 2]
    assert d["versions"][0]["source"] == "upload"


def test_manifest_from_dict_defaults_a_missing_source() -> None:
    d = sample_manifest().to_dict()
    del d["versions"][1]["source"]
    assert Manifest.from_dict(d).versions[1].source == ""


def test_opening_the_catalog_survives_losing_the_race_to_create_its_namespace(
    storage: LakeStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process creates the namespace between pyiceberg's exists-check and its insert: the unique
    key refuses the insert, and opening the catalog retries and finds the namespace there."""
    register(Catalog(storage), "before_race", "content")  # the namespace exists now
    real_exists = iceberg.SqlCatalog.namespace_exists
    checks: list[bool] = []

    def stale_first_check(self: iceberg.SqlCatalog, namespace: Any) -> bool:
        checks.append(real_exists(self, namespace))
        return len(checks) > 1 and checks[-1]

    monkeypatch.setattr(iceberg.SqlCatalog, "namespace_exists", stale_first_check)
    catalog = Catalog(storage)
    assert checks[:2] == [True, True]  # the first check was answered stale, the retry found it
    assert catalog.get("before_race").version == 1
    assert register(catalog, "after_race", "content").manifest.version == 1


# -- racing real processes -------------------------------------------------------------------------

RACE_WORKERS = 4
RACE_REGISTRATIONS = 25
CONTESTED_NAMES = [f"contested_{i}" for i in range(6)]
RACE_TYPES = ["int64", "string", "double", "bool"]


class _LostRaceCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "lost the race" in record.getMessage():
            self.count += 1


def _count_lost_races() -> _LostRaceCounter:
    counter = _LostRaceCounter()
    logger = logging.getLogger("lakehouse_assets.core.lake.catalog")
    logger.setLevel(logging.INFO)
    logger.addHandler(counter)
    return counter


def _versions_worker(root: str, worker: int, barrier: Any, results: Any) -> None:
    """Child process: register RACE_REGISTRATIONS distinct contents for one dataset, as fast as it can."""
    try:
        counter = _count_lost_races()
        catalog = Catalog(LocalStorage(Path(root)))
        barrier.wait(timeout=120)
        outcomes = []
        for j in range(RACE_REGISTRATIONS):
            r = register(catalog, "raced", f"w{worker}-{j:02d}")
            outcomes.append((r.created, r.manifest.version, r.manifest.current.content_hash))
        results.put((worker, "ok", outcomes, counter.count))
    except BaseException:
        results.put((worker, "error", traceback.format_exc(), 0))


def _schemas_worker(root: str, worker: int, barrier: Any, results: Any) -> None:
    """Child process: claim each contested name with this worker's own schema."""
    try:
        schema = (Column("id", "int64"), Column("value", RACE_TYPES[worker]))
        catalog = Catalog(LocalStorage(Path(root)))
        barrier.wait(timeout=120)
        outcomes: dict[str, tuple[str, str]] = {}
        for name in CONTESTED_NAMES:
            try:
                r = register(catalog, name, f"{name}-w{worker}", schema=schema)
                outcomes[name] = ("won", r.manifest.fingerprint)
            except SchemaConflict as e:
                outcomes[name] = ("conflict", str(e))
        results.put((worker, "ok", outcomes, 0))
    except BaseException:
        results.put((worker, "error", traceback.format_exc(), 0))


def run_race(target: Any, root: Path) -> dict[int, Any]:
    """Start RACE_WORKERS spawned processes that begin together behind a barrier; return their outcomes."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(RACE_WORKERS)
    results = ctx.Queue()
    procs = [ctx.Process(target=target, args=(str(root), w, barrier, results)) for w in range(RACE_WORKERS)]
    for p in procs:
        p.start()
    try:
        collected = [results.get(timeout=120) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    errors = [detail for _, status, detail, _ in collected if status != "ok"]
    assert not errors, "\n".join(errors)
    assert [p.exitcode for p in procs] == [0] * RACE_WORKERS
    return {worker: (outcomes, lost) for worker, _, outcomes, lost in collected}


def assert_history_is_consistent(catalog: Catalog, name: str, final: Manifest) -> None:
    """Every snapshot's lineage is a prefix of the final history ending at its own number, and holds
    exactly its own file: no version was rebased onto another's files."""
    table = catalog.table(name)
    snapshots = table.snapshots()
    assert len(snapshots) == len(final.versions)  # no snapshot outside the final lineage
    for i, snapshot in enumerate(snapshots):
        assert snapshot.snapshot_id == final.versions[i].snapshot_id
        files = [f.file.file_path for f in table.scan(snapshot_id=snapshot.snapshot_id).plan_files()]
        assert files == [catalog.storage.location(final.versions[i].object_key)]


def test_racing_processes_never_lose_an_update_or_tear_a_manifest(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    storage = LocalStorage(root)
    outcomes = run_race(_versions_worker, root)

    expected_hashes = {f"w{w}-{j:02d}" for w in range(RACE_WORKERS) for j in range(RACE_REGISTRATIONS)}
    total = RACE_WORKERS * RACE_REGISTRATIONS

    # Every registration was accepted, under its own version number.
    reported = [entry for worker_outcomes, _ in outcomes.values() for entry in worker_outcomes]
    assert all(created for created, _, _ in reported)
    assert sorted(version for _, version, _ in reported) == list(range(1, total + 1))

    # The table holds exactly versions 1..100, no gaps, no duplicates.
    catalog = Catalog(storage)
    assert snapshot_versions(catalog, "raced") == list(range(1, total + 1))

    final = catalog.get("raced")
    assert final.version == total
    assert [v.version for v in final.versions] == list(range(1, total + 1))
    hashes = [v.content_hash for v in final.versions]
    assert len(hashes) == len(set(hashes)) == total  # each content exactly once
    assert set(hashes) == expected_hashes
    for _, version, content_hash in reported:  # each writer's version really holds its content
        assert final.versions[version - 1].content_hash == content_hash
    for w in range(RACE_WORKERS):  # a writer's own registrations keep their order
        mine = [v.version for v in final.versions if v.content_hash.startswith(f"w{w}-")]
        assert mine == sorted(mine)
    assert_history_is_consistent(catalog, "raced", final)

    # The processes really did collide and recover (the retry path was exercised).
    assert sum(lost for _, lost in outcomes.values()) > 0


def test_racing_processes_with_different_schemas_for_a_new_name_one_wins_the_rest_conflict(
    tmp_path: Path,
) -> None:
    root = tmp_path / "lake"
    storage = LocalStorage(root)
    outcomes = run_race(_schemas_worker, root)

    catalog = Catalog(storage)
    for name in CONTESTED_NAMES:
        results = {w: outcomes[w][0][name] for w in range(RACE_WORKERS)}
        winners = [w for w, (status, _) in results.items() if status == "won"]
        assert len(winners) == 1, (name, results)
        winner = winners[0]
        winning_schema = (Column("id", "int64"), Column("value", RACE_TYPES[winner]))

        live = catalog.get(name)
        assert live.schema == winning_schema
        assert live.fingerprint == results[winner][1]
        assert [v.content_hash for v in live.versions] == [f"{name}-w{winner}"]
        assert snapshot_versions(catalog, name) == [1]
        assert_history_is_consistent(catalog, name, live)

        for w, (status, message) in results.items():
            if w == winner:
                continue
            assert status == "conflict"
            assert f"live schema {format_schema(winning_schema)}" in message
            assert f"new schema (id int64, value {RACE_TYPES[w]})" in message
