"""Dagster: the nightly maintenance assets compact and expire the lake's tables and say what they did."""

from __future__ import annotations

import io
from pathlib import Path

import dagster as dg
import pytest

from lakehouse_assets.core.ingest.csv import IngestLimits, ingest_csv
from lakehouse_assets.core.lake.handle import Lake
from lakehouse_assets.core.settings import LakehouseSettings
from lakehouse_assets.definitions import build_definitions
from tests.core.lake.test_maintenance import append_elsewhere


def test_compaction_then_expiry_by_the_retention_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_VERSION_RETENTION", "2")
    settings = LakehouseSettings(home=tmp_path / "lake", _env_file=None)
    lake = Lake.open(settings)
    for v in range(4):
        body = "id,role\n" + "".join(f"{i},cook\n" for i in range(10 * v, 10 * v + 5))
        ingest_csv(io.BytesIO(body.encode()), "people", lake=lake, limits=IngestLimits())
    append_elsewhere(lake, range(900, 903))  # v5: the v4 file and an appended one
    defs = build_definitions(settings)

    result = dg.materialize(
        [defs.get_assets_def("lake_compaction"), defs.get_assets_def("lake_snapshot_expiry")],
        instance=dg.DagsterInstance.ephemeral(),
        resources=defs.resources,
    )
    assert result.success
    compaction = result.asset_materializations_for_node("lake_compaction")[0].metadata
    assert (compaction["tables_compacted"].value, compaction["files_before"].value) == (1, 2)
    assert compaction["files_after"].value == 1
    expiry = result.asset_materializations_for_node("lake_snapshot_expiry")[0].metadata
    assert expiry["version_retention"].value == 2
    assert (expiry["snapshots_before"].value, expiry["snapshots_after"].value) == (6, 2)
    assert expiry["files_deleted"].value > 0 and expiry["bytes_reclaimed"].value > 0
    assert [r.data["name"] for r in expiry["expired"].value.records] == ["people"]

    lake.catalog.refresh()
    assert [v.version for v in lake.catalog.get("people").versions] == [4, 5]
    assert lake.catalog.get("people").row_count == 8
