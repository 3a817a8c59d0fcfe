"""The whole spine over an S3 lake (moto's server over HTTP): landing zone, Dagster assets,
catalog, SQL and the API, with credentials passed as environment variables."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import ApiSettings
from lakehouse_assets.core.lake.catalog import Catalog
from lakehouse_assets.core.lake.storage import S3Storage, open_storage
from lakehouse_assets.core.settings import LakehouseSettings
from lakehouse_assets.core.sql.engine import SqlEngine
from lakehouse_assets.definitions import build_definitions
from tests.conftest import S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, S3Endpoint

WORKERS = (
    b"worker_id,role,state,hourly_rate,years_experience\n1,welder,OH,30.5,10\n2,welder,OH,28.0,4\n3,cook,IL,18,1\n"
)
CSV = {"content-type": "text/csv"}


@pytest.fixture
def s3_settings(tmp_path: Path, s3_endpoint: S3Endpoint, s3_bucket: str, monkeypatch) -> LakehouseSettings:
    monkeypatch.setenv("LAKEHOUSE_S3_ACCESS_KEY_ID", S3_ACCESS_KEY)
    monkeypatch.setenv("LAKEHOUSE_S3_SECRET_ACCESS_KEY", S3_SECRET_KEY)
    return LakehouseSettings(
        home=tmp_path / "scratch",
        s3_bucket=s3_bucket,
        s3_prefix="lake",
        s3_endpoint_url=s3_endpoint.url,
        s3_region=S3_REGION,
        _env_file=None,
    )


def test_assets_catalog_and_sql_over_an_s3_lake(s3_settings, s3_client, s3_bucket):
    s3_client.put_object(Bucket=s3_bucket, Key="lake/landing/workers.csv", Body=WORKERS)
    defs = build_definitions(s3_settings)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("datasets", ["workers"])
        ingest = dg.materialize(
            [defs.get_assets_def("datasets"), *defs.asset_checks],
            partition_key="workers",
            instance=instance,
            resources=defs.resources,
            selection=dg.AssetSelection.assets("datasets"),
        )
        assert ingest.success
        assert all(e.passed for e in ingest.get_asset_check_evaluations())
        derived = dg.materialize(
            list(defs.assets),
            instance=instance,
            resources=defs.resources,
            selection=dg.AssetSelection.groups("warehouse"),
        )
        assert derived.success

    lake = open_storage(s3_settings)
    assert isinstance(lake, S3Storage)
    keys = {o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"]}
    manifest = Catalog(lake).get("workers")
    assert f"lake/{manifest.object_key}" in keys  # the data file, and the Iceberg table's metadata beside it
    assert any(k.startswith("lake/tables/workers/metadata/") and k.endswith(".metadata.json") for k in keys)
    engine = SqlEngine(Catalog(lake), refresh_seconds=0)
    try:
        assert engine.query("SELECT count(*), sum(hourly_rate) FROM workers").rows == [[3, 76.5]]
        by_role = engine.query("SELECT role, workers FROM workers_by_role ORDER BY role").rows
        assert by_role == [["cook", 1], ["welder", 2]]
        with pytest.raises(Exception, match=r"Permission|disabled"):
            engine.query("SELECT * FROM read_text('/etc/passwd')")
    finally:
        engine.close()


def test_api_ingest_and_sql_over_an_s3_lake(s3_settings, monkeypatch):
    settings = ApiSettings(**s3_settings.model_dump(), report_to_dagster=False)
    settings = settings.model_copy(update={"s3_access_key_id": S3_ACCESS_KEY, "s3_secret_access_key": S3_SECRET_KEY})
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").json()["lake"].startswith("s3://")
        r = client.post("/v1/ingest?name=workers", content=WORKERS, headers=CSV)
        assert r.status_code == 201, r.text
        r = client.post("/v1/ingest?name=workers", content=WORKERS + b"4,cook,IL,19,2\n", headers=CSV)
        assert r.json()["version"] == 2
        rows = client.post("/v1/sql", json={"sql": "SELECT count(*) FROM workers"}).json()["rows"]
        assert rows == [[4]]
        old = client.post("/v1/sql", json={"sql": "SELECT count(*) FROM workers__v1"}).json()["rows"]
        assert old == [[3]]
        drift = client.post("/v1/ingest?name=workers", content=b"a\n1\n", headers=CSV)
        assert drift.status_code == 409
        assert client.post("/v1/sql", json={"sql": "SELECT count(*) FROM workers"}).json()["rows"] == [[4]]


def test_missing_landing_object_on_s3_fails_the_run_with_a_clear_message(s3_settings):
    defs = build_definitions(s3_settings)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("datasets", ["ghost"])
        result = dg.materialize(
            [defs.get_assets_def("datasets"), *defs.asset_checks],
            partition_key="ghost",
            instance=instance,
            resources=defs.resources,
            selection=dg.AssetSelection.assets("datasets"),
            raise_on_error=False,
        )
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data
    assert "landing/ghost.csv is missing" in failure.user_failure_data.description
