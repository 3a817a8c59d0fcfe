"""Dagster: the definitions load, the assets materialize in-process, the sensor and checks behave,
and online ingests through the API show up in the instance."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import ApiSettings
from lakehouse_assets.core.lake.catalog import Catalog
from lakehouse_assets.core.lake.storage import open_storage
from lakehouse_assets.core.settings import LakehouseSettings
from lakehouse_assets.definitions import build_definitions
from lakehouse_assets.defs.ingest.sensors import landing_zone_sensor

WORKERS = (
    "worker_id,name,role,state,hourly_rate,years_experience\n"
    "1,Ann,welder,OH,30.5,10\n2,Bob,welder,OH,28.0,4\n3,Cy,forklift operator,IL,21.25,2\n"
)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "lake" / "landing").mkdir(parents=True)
    return tmp_path / "lake"


@pytest.fixture
def defs(home: Path) -> dg.Definitions:
    return build_definitions(LakehouseSettings(home=home, _env_file=None))


def land(home: Path, name: str, text: str) -> None:
    (home / "landing" / f"{name}.csv").write_text(text)


def materialize_dataset(
    defs: dg.Definitions, instance: dg.DagsterInstance, name: str, run_config: dict | None = None
) -> dg.ExecuteInJobResult:
    if not instance.has_dynamic_partition("datasets", name):
        instance.add_dynamic_partitions("datasets", [name])
    return dg.materialize(
        [defs.get_assets_def("datasets"), *defs.asset_checks],
        partition_key=name,
        instance=instance,
        resources=defs.resources,
        selection=dg.AssetSelection.assets("datasets"),
        raise_on_error=False,
        run_config=run_config,
    )


def catalog_at(home: Path) -> Catalog:
    return Catalog(open_storage(LakehouseSettings(home=home, _env_file=None)))


def test_all_definitions_load():
    from lakehouse_assets.definitions import defs

    repo = defs.get_repository_def()
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    assert {"datasets", "workers_by_role"} <= keys
    checks = {k.name for k in repo.asset_graph.asset_check_keys}
    assert {"schema_fingerprint_unchanged", "dataset_not_empty"} <= checks
    assert defs.get_sensor_def("landing_zone_sensor")
    deps = repo.asset_graph.get(dg.AssetKey("workers_by_role")).parent_keys
    assert deps == {dg.AssetKey("datasets")}  # lineage: CSV -> dataset -> derived table


def test_datasets_partition_materializes_with_metadata_and_passing_checks(defs, instance, home):
    land(home, "workers", WORKERS)
    result = materialize_dataset(defs, instance, "workers")
    assert result.success
    [event] = result.get_asset_materialization_events()
    md = event.materialization.metadata
    assert md["dagster/row_count"].value == 3
    assert md["version"].value == 1
    assert md["storage_key"].value.startswith("datasets/workers/")
    preview = md["preview"].value  # a table in the UI: first rows, numbers as numbers
    assert [c.name for c in preview.schema.columns][:2] == ["worker_id", "name"]
    assert [r.data["name"] for r in preview.records] == ["Ann", "Bob", "Cy"]
    assert preview.records[0].data["hourly_rate"] == 30.5
    assert [c.name for c in md["dagster/column_schema"].value.columns][:2] == ["worker_id", "name"]
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {"schema_fingerprint_unchanged": True, "dataset_not_empty": True}
    assert catalog_at(home).get("workers").row_count == 3


def test_derived_table_is_built_by_duckdb_and_registered(defs, instance, home):
    land(home, "workers", WORKERS)
    assert materialize_dataset(defs, instance, "workers").success
    result = dg.materialize(
        list(defs.assets), instance=instance, resources=defs.resources, selection=dg.AssetSelection.groups("warehouse")
    )
    assert result.success
    manifest = catalog_at(home).get("workers_by_role")
    assert manifest.row_count == 2
    table = pq.read_table(home / manifest.object_key).to_pylist()
    welders = next(r for r in table if r["role"] == "welder")
    assert welders == {
        "role": "welder",
        "state": "OH",
        "workers": 2,
        "avg_hourly_rate": 29.25,
        "avg_years_experience": 7.0,
    }


def test_schema_drift_fails_the_run_and_leaves_the_live_version(defs, instance, home):
    land(home, "workers", WORKERS)
    assert materialize_dataset(defs, instance, "workers").success
    land(home, "workers", "worker_id,full_name\n1,Ann\n")
    result = materialize_dataset(defs, instance, "workers")
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data
    assert "schema drift" in failure.user_failure_data.description
    assert catalog_at(home).get("workers").version == 1


def test_an_asset_run_configured_for_additive_evolution_adds_the_column(defs, instance, home):
    land(home, "workers", WORKERS)
    assert materialize_dataset(defs, instance, "workers").success
    wider = WORKERS.splitlines()
    text = "\n".join([wider[0] + ",shift"] + [line + ",night" for line in wider[1:]]) + "\n"
    land(home, "workers", text)
    config = {"ops": {"datasets": {"config": {"schema_evolution": "additive"}}}}
    result = materialize_dataset(defs, instance, "workers", config)
    assert result.success
    [event] = result.get_asset_materialization_events()
    assert event.materialization.metadata["columns_added"].value == "shift"
    manifest = catalog_at(home).get("workers")
    assert manifest.version == 2 and manifest.schema[-1].name == "shift"


def test_missing_landing_file_fails_with_a_clear_message(defs, instance):
    result = materialize_dataset(defs, instance, "ghost")
    assert not result.success
    assert "landing/ghost.csv" in str(result.get_step_failure_events()[0].step_failure_data)


def test_fingerprint_check_fails_when_the_stored_object_disagrees(defs, instance, home):
    land(home, "workers", WORKERS)
    assert materialize_dataset(defs, instance, "workers").success
    manifest = catalog_at(home).get("workers")
    pq.write_table(pa.table({"other": [1]}), home / manifest.object_key)  # tamper with the live object
    result = materialize_dataset(defs, instance, "workers")  # same landing file: ingest is a no-op, checks run
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evaluations["schema_fingerprint_unchanged"].passed is False
    assert evaluations["schema_fingerprint_unchanged"].metadata["stored_schema"].value == "(other BIGINT)"


def test_sensor_requests_runs_for_new_and_changed_landing_files(defs, instance, home):
    land(home, "workers", WORKERS)
    land(home, "Bad-Name", "a\n1\n")
    (home / "landing" / "notes.txt").write_text("not a csv")
    with dg.build_sensor_context(instance=instance, resources=defs.resources) as ctx:
        first = landing_zone_sensor(ctx)
    assert [r.partition_key for r in first.run_requests] == ["workers"]
    assert first.dynamic_partitions_requests[0].partition_keys == ["workers"]

    with dg.build_sensor_context(instance=instance, resources=defs.resources, cursor=first.cursor) as ctx:
        unchanged = landing_zone_sensor(ctx)
    assert unchanged.run_requests == []

    land(home, "workers", WORKERS + "4,Di,welder,OH,31.0,12\n")
    land(home, "towns", "zip,town\n60601,Chicago\n")
    with dg.build_sensor_context(instance=instance, resources=defs.resources, cursor=first.cursor) as ctx:
        changed = landing_zone_sensor(ctx)
    assert sorted(r.partition_key for r in changed.run_requests) == ["towns", "workers"]
    assert len({r.run_key for r in first.run_requests + changed.run_requests}) == 3


def test_online_ingest_is_reported_to_the_dagster_instance(tmp_path, instance, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", instance.root_directory)
    monkeypatch.setattr(dg.DagsterInstance, "get", staticmethod(lambda: instance))
    settings = ApiSettings(home=tmp_path / "lake", report_to_dagster=True, _env_file=None)
    with TestClient(create_app(settings)) as client:
        r = client.post("/v1/ingest?name=people", content=b"id,name\n1,a\n", headers={"content-type": "text/csv"})
        assert r.status_code == 201
        unchanged = client.post(
            "/v1/ingest?name=people", content=b"id,name\n1,a\n", headers={"content-type": "text/csv"}
        )
        assert unchanged.status_code == 200
    assert instance.has_dynamic_partition("datasets", "people")
    records = instance.fetch_materializations(dg.AssetKey("datasets"), limit=10).records
    assert len(records) == 1  # the unchanged re-ingest is not a new version
    mat = records[0].asset_materialization
    assert mat.partition == "people"
    assert mat.metadata["dagster/row_count"].value == 1 and mat.metadata["version"].value == 1
