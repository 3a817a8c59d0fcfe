"""Upgrading a lake of JSON manifests (the catalog before Iceberg) in place, and refusing a half-migrated one."""

from __future__ import annotations

import json
import logging

import pytest

from lakehouse_assets.core.lake import iceberg
from lakehouse_assets.core.lake.catalog import (
    Catalog,
    Column,
    DatasetVersion,
    Manifest,
    dataset_id_for,
    schema_fingerprint,
)
from lakehouse_assets.core.lake.migrate import HalfMigrated
from lakehouse_assets.core.lake.storage import LakeStorage
from tests.core.lake.test_catalog import SCHEMA, object_key_for, register, write_parquet

WIDER = (*SCHEMA, Column("city", "string"))


def old_lake(storage: LakeStorage, name: str = "staff", versions: int = 3) -> Manifest:
    """What the catalog before Iceberg left: Parquet files and one JSON manifest per version, each holding the
    whole history; the last version added a column (additive evolution)."""
    history: list[DatasetVersion] = []
    manifest = None
    for v in range(1, versions + 1):
        schema = WIDER if v == versions else SCHEMA
        key = object_key_for(name, f"old{v}")
        write_parquet(storage, key, schema, rows=v)
        added = ("city",) if v == versions else ()
        history.append(DatasetVersion(v, key, f"old{v}", v, 900 + v, f"2025-0{v}-01T00:00:00.000Z", "csv", added))
        manifest = Manifest(name, dataset_id_for(name), schema, schema_fingerprint(schema), tuple(history))
        storage.put_bytes(f"catalog/{name}/v{v:08d}.json", json.dumps(manifest.to_dict()).encode())
    assert manifest is not None
    return manifest


def test_a_lake_of_manifests_is_upgraded_in_place_keeping_every_version(storage: LakeStorage) -> None:
    before = old_lake(storage)
    data_files = {k: storage.get_bytes(k) for k in (v.object_key for v in before.versions)}

    catalog = Catalog(storage)
    after = catalog.get("staff")
    assert [(v.version, v.content_hash, v.row_count, v.source, v.columns_added) for v in after.versions] == [
        (v.version, v.content_hash, v.row_count, v.source, v.columns_added) for v in before.versions
    ]
    assert [v.created_at for v in after.versions] == [v.created_at for v in before.versions]
    assert (after.dataset_id, after.schema, after.fingerprint) == (before.dataset_id, WIDER, before.fingerprint)
    assert [v.files for v in after.versions] == [(v.object_key,) for v in before.versions]  # added, not rewritten
    assert {k: storage.get_bytes(k) for k in data_files} == data_files

    table = catalog.table("staff")
    assert [f.name for f in table.schema().fields] == ["id", "name", "city"]
    assert table.scan().to_arrow().num_rows == 3  # Iceberg itself reads the live version
    assert table.properties["lakehouse.migrated-from"] == "3"

    # Opening again migrates nothing twice; the next registration continues the numbering.
    assert Catalog(storage).get("staff") == after
    assert register(catalog, "staff", "new", schema=WIDER).manifest.version == 4


def test_a_version_whose_file_is_gone_is_left_out_and_a_damaged_newest_manifest_falls_back(
    storage: LakeStorage, caplog: pytest.LogCaptureFixture
) -> None:
    before = old_lake(storage, versions=2)
    storage.delete(before.versions[0].object_key)
    storage.put_bytes("catalog/staff/v00000003.json", b'{"name": "staff", "dataset_id": ')  # torn

    with caplog.at_level(logging.WARNING, logger="lakehouse_assets.core.lake.migrate"):
        after = Catalog(storage).get("staff")
    assert [v.version for v in after.versions] == [2]
    assert "skipping unreadable manifest catalog/staff/v00000003.json" in caplog.text
    assert "v1: its file datasets/staff/old1.parquet is gone" in caplog.text


def test_a_manifest_written_after_the_upgrade_means_half_migrated_and_the_catalog_refuses(
    storage: LakeStorage,
) -> None:
    old_lake(storage, versions=2)
    catalog = Catalog(storage)
    tables = iceberg.metadata_locations(catalog.iceberg)

    # A writer from before the Iceberg catalog, still running, adds v3 the old way.
    newer = Manifest.from_dict(json.loads(storage.get_bytes("catalog/staff/v00000002.json")))
    storage.put_bytes("catalog/staff/v00000003.json", json.dumps(newer.to_dict()).encode())

    with pytest.raises(HalfMigrated, match=r"'staff' has a JSON manifest v3 newer than its Iceberg table"):
        Catalog(storage)
    assert iceberg.metadata_locations(catalog.iceberg) == tables  # the refusal changed nothing
