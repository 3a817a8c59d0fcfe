"""The lake resource hands asset runs the deployment's settings: the environment, the env file that
LAKEHOUSE_ENV_FILE names, and the resource's own configuration on top, read once per run."""

from __future__ import annotations

import io
from pathlib import Path

import dagster as dg
import pytest

from lakehouse_assets.core.ingest.csv import ingest_csv
from lakehouse_assets.core.lake.handle import Lake
from lakehouse_assets.core.settings import LakehouseSettings
from lakehouse_assets.resources import LakeResource


def test_a_setting_given_only_in_the_env_file_reaches_an_asset_run(tmp_path: Path, monkeypatch) -> None:
    env = tmp_path / "lakehouse.env"
    env.write_text(f"LAKEHOUSE_HOME={tmp_path / 'lake'}\nLAKEHOUSE_DRIFT_PSI_THRESHOLD=0.123\n")
    monkeypatch.setenv("LAKEHOUSE_ENV_FILE", str(env))
    monkeypatch.delenv("LAKEHOUSE_HOME", raising=False)
    monkeypatch.delenv("LAKEHOUSE_DRIFT_PSI_THRESHOLD", raising=False)
    seen: list[LakehouseSettings] = []

    @dg.asset
    def reads_settings(lake: LakeResource) -> None:
        seen.extend([lake.settings(), lake.settings()])

    configured = LakeResource(max_ingest_bytes=4096)  # what the run configures wins over the file
    assert dg.materialize([reads_settings], resources={"lake": configured}).success
    first, again = seen
    assert first.drift_psi_threshold == pytest.approx(0.123) and first.home == tmp_path / "lake"
    assert first.max_ingest_bytes == 4096
    assert again is first  # read once per run


def test_a_run_holds_one_lake_handle_on_the_configured_home(tmp_path: Path) -> None:
    """Every asset of a run gets the same storage, catalog and scratch folder: the catalog is listed once
    per run (per step process), not once per call, and writes through it are seen by the next asset."""
    seen: list[Lake] = []

    @dg.asset
    def writes(lake: LakeResource) -> None:
        handle = lake.open()
        ingest_csv(io.BytesIO(b"id\n1\n"), "people", lake=handle, limits=lake.limits())
        seen.append(handle)

    @dg.asset(deps=[writes])
    def reads(lake: LakeResource) -> None:
        seen.append(lake.open())

    home = tmp_path / "lake"
    assert dg.materialize([writes, reads], resources={"lake": LakeResource(home=str(home))}).success
    first, second = seen
    assert second is first and first.scratch_dir == home / ".tmp"
    assert first.catalog.get("people").row_count == 1
    assert LakeResource(home=str(home)).open() is not first  # outside a run: a new handle on the same lake
    assert LakeResource(home=str(home)).open().catalog.get("people").version == 1
