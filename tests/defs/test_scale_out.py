"""The scale-out profile in one test: the lake in an S3-compatible server (moto, over HTTP) and the
vectors in a Chroma server, shared by the API and Dagster. What the API records, Dagster builds on,
and what Dagster indexes, the API searches."""

from __future__ import annotations

import io
from pathlib import Path

import dagster as dg
import pyarrow.csv as pacsv
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import ApiSettings
from lakehouse_assets.core.sample.generate import generate_workers
from lakehouse_assets.core.settings import LakehouseSettings
from lakehouse_assets.definitions import build_definitions
from tests.conftest import S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, S3Endpoint


@pytest.fixture
def shared(tmp_path: Path, s3_endpoint: S3Endpoint, s3_bucket: str, chroma_server_url: str, monkeypatch) -> dict:
    monkeypatch.setenv("LAKEHOUSE_S3_ACCESS_KEY_ID", S3_ACCESS_KEY)
    monkeypatch.setenv("LAKEHOUSE_S3_SECRET_ACCESS_KEY", S3_SECRET_KEY)
    return {
        "home": tmp_path / "node",
        "s3_bucket": s3_bucket,
        "s3_prefix": "lake",
        "s3_endpoint_url": s3_endpoint.url,
        "s3_region": S3_REGION,
        "chroma_url": chroma_server_url,
        "_env_file": None,
    }


def test_api_and_dagster_share_s3_and_a_chroma_server(shared, instance, s3_client, s3_bucket):
    api_settings = ApiSettings(**shared, report_to_dagster=False, warm_embedder=False)
    csv = io.BytesIO()
    pacsv.write_csv(generate_workers(1000, seed=11), csv)
    with TestClient(create_app(api_settings)) as api:
        assert (
            api.post(
                "/v1/ingest?name=workers", content=csv.getvalue(), headers={"content-type": "text/csv"}
            ).status_code
            == 201
        )
        ids = [
            str(r[0]) for r in api.post("/v1/sql", json={"sql": "SELECT worker_id FROM workers LIMIT 2"}).json()["rows"]
        ]
        r = api.post("/v1/matrix/playbooks/record", json={"query": "scale-out welders for Toledo", "endorsed_ids": ids})
        assert r.status_code == 201

        # Dagster, with the same settings, builds the playbooks corpus from what the API recorded
        defs = build_definitions(LakehouseSettings(**shared))
        memory = dg.materialize([defs.get_assets_def("playbook_memory")], instance=instance, resources=defs.resources)
        assert memory.success
        result = dg.materialize(
            [*(defs.get_assets_def(n) for n in ("playbook_memory", "corpus_documents", "corpus_embeddings")),
             *defs.asset_checks],
            partition_key="playbooks",
            instance=instance,
            resources=defs.resources,
            selection=dg.AssetSelection.assets("corpus_documents", "corpus_embeddings"),
            raise_on_error=False,
        )  # fmt: skip
        assert result.success
        assert all(e.passed for e in result.get_asset_check_evaluations())

        keys = [o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket, Prefix="lake/")["Contents"]]
        assert any(k.startswith("lake/tables/corpus_playbooks/metadata/") for k in keys)
        assert any(k.startswith("lake/datasets/workers/") for k in keys)

        # ... and the API sees Dagster's work: the catalog on S3 and the index on the Chroma server
        datasets = {d["name"] for d in api.get("/v1/datasets").json()["datasets"]}
        assert {"workers", "corpus_playbooks"} <= datasets
        hits = api.post("/v1/matrix/search", json={"query": "welders in Toledo", "corpora": ["playbooks"], "k": 3})
        assert hits.status_code == 200 and hits.json()["hits"], hits.text
