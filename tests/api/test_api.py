"""The HTTP contract: ingest statuses, dataset listing, /v1/sql, and the error shape."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.observe import endpoint_of
from api.settings import ApiSettings
from lakehouse_assets.core.ingest.csv import IngestLimits, ingest_csv
from lakehouse_assets.core.lake.handle import Lake

CSV = b"id,name,zip\n1,ann,00123\n2,bob,60601\n"


@pytest.fixture
def api_settings(tmp_path: Path) -> ApiSettings:
    return ApiSettings(
        home=tmp_path / "lake", report_to_dagster=False, warm_embedder=False, max_ingest_bytes=4096, _env_file=None
    )


@pytest.fixture
def client(api_settings: ApiSettings) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings)) as c:
        yield c


def post_csv(client: TestClient, name: str, body: bytes, content_type: str = "text/csv"):
    return client.post(f"/v1/ingest?name={name}", content=body, headers={"content-type": content_type})


def assert_error(response, status: int, code: str, *words: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code
    for w in words:
        assert w in body["message"]
    return body


def test_health_is_open_and_reports_the_lake(client):
    r = client.get("/health")
    assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["lake"].startswith("file://")


def test_search_vector_settings_reach_the_frame_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_SEARCH_VECTORS_SYNC_MAX", "5")
    monkeypatch.setenv("LAKEHOUSE_SEARCH_VECTORS_FOLLOW_SECONDS", "2.5")
    settings = ApiSettings(home=tmp_path / "lake", report_to_dagster=False, warm_embedder=False, _env_file=None)
    with TestClient(create_app(settings)) as c:
        frames = c.app.state.services.matrix.frames
        assert (frames.sync_vectors, frames.follow_seconds) == (5, 2.5)
        assert c.get("/health").json()["search_frames"] == {}  # no corpus source yet: no frame built


def test_ingest_raw_body_then_multipart_then_unchanged(client):
    first = post_csv(client, "people", CSV)
    assert first.status_code == 201
    m = first.json()
    assert m["name"] == "people" and m["version"] == 1 and m["row_count"] == 2
    assert m["schema"] == [
        {"name": "id", "type": "BIGINT"},
        {"name": "name", "type": "VARCHAR"},
        {"name": "zip", "type": "VARCHAR"},
    ]
    second = client.post("/v1/ingest?name=people", files={"file": ("p.csv", CSV + b"3,cy,60602\n", "text/csv")})
    assert second.status_code == 201 and second.json()["version"] == 2
    same = client.post("/v1/ingest?name=people", files={"file": ("p.csv", CSV + b"3,cy,60602\n", "text/csv")})
    assert same.status_code == 200 and same.json()["version"] == 2
    assert [v["version"] for v in same.json()["versions"]] == [1, 2]


def test_multipart_with_other_fields_uses_the_file_field(client):
    r = client.post("/v1/ingest?name=people", data={"note": "hello"}, files={"file": ("p.csv", CSV, "text/csv")})
    assert r.status_code == 201 and r.json()["row_count"] == 2


def test_ingest_drift_is_409_naming_both_schemas_and_live_data_stays(client):
    post_csv(client, "people", CSV)
    r = post_csv(client, "people", b"id,full_name\n1,ann\n")
    body = assert_error(
        r, 409, "schema_conflict", "(id BIGINT, name VARCHAR, zip VARCHAR)", "(id BIGINT, full_name VARCHAR)"
    )
    assert body["details"]["dataset"] == "people"
    assert client.get("/v1/datasets/people").json()["version"] == 1
    assert client.post("/v1/sql", json={"sql": "SELECT count(*) FROM people"}).json()["rows"] == [[2]]


def test_an_opted_in_ingest_adds_columns_and_the_history_says_so(client):
    post_csv(client, "people", CSV)
    added = client.post(
        "/v1/ingest?name=people&schema_evolution=additive",
        content=b"id,name,zip,rate\n3,cy,60602,21.5\n",
        headers={"content-type": "text/csv"},
    )
    assert added.status_code == 201, added.text
    body = added.json()
    assert [c["name"] for c in body["schema"]] == ["id", "name", "zip", "rate"]
    assert [v["columns_added"] for v in body["versions"]] == [[], ["rate"]]
    assert client.post("/v1/sql", json={"sql": "SELECT rate FROM people"}).json()["rows"] == [[21.5]]
    # a type change stays refused even when opted in, naming both schemas
    r = client.post(
        "/v1/ingest?name=people&schema_evolution=additive",
        content=b"id,name,zip,rate\nx,cy,60602,21.5\n",
        headers={"content-type": "text/csv"},
    )
    assert_error(r, 409, "schema_conflict", "(id VARCHAR,", "column 'id' is BIGINT but line 2 has 'x'")
    bad = client.post(
        "/v1/ingest?name=people&schema_evolution=sideways", content=CSV, headers={"content-type": "text/csv"}
    )
    assert bad.status_code == 400 and "schema_evolution" in bad.json()["message"]
    assert client.get("/v1/datasets/people").json()["version"] == 2


def test_ingest_over_the_size_cap_is_413(client):
    r = post_csv(client, "people", b"id\n" + b"12345\n" * 1000)
    assert_error(r, 413, "too_large", "4096")
    r = client.post("/v1/ingest?name=people", files={"file": ("p.csv", b"id\n" + b"12345\n" * 1000, "text/csv")})
    assert_error(r, 413, "too_large")
    assert client.get("/v1/datasets").json()["datasets"] == []


def test_a_chunked_upload_is_converted_as_it_arrives_and_stopped_at_the_cap(tmp_path: Path):
    """No Content-Length: the conversion reads the spool while the chunks come, and an upload that
    passes the cap half-way is refused with nothing registered and nothing left in scratch."""
    settings = ApiSettings(
        home=tmp_path / "lake", report_to_dagster=False, warm_embedder=False, max_ingest_bytes=3 << 20, _env_file=None
    )
    rows = [b"%d,worker %d,%d.5\n" % (i, i, i % 70) for i in range(100_000)]  # about 2.3 MiB

    def chunks(extra: int = 0, bad: bytes = b"") -> Iterator[bytes]:
        yield b"id,name,rate\n"
        for i in range(0, len(rows), 5_000):
            yield b"".join(rows[i : i + 5_000])
        yield bad
        yield b"9" * extra

    with TestClient(create_app(settings)) as c:
        r = c.post("/v1/ingest?name=w", content=chunks(), headers={"content-type": "text/csv"})
        assert r.status_code == 201, r.text
        assert r.json()["row_count"] == 100_000
        assert c.post("/v1/sql", json={"sql": "SELECT sum(id), max(rate) FROM w"}).json()["rows"] == [
            [4999950000, 69.5]
        ]
        r = c.post("/v1/ingest?name=w", content=chunks(bad=b"1,2\n"), headers={"content-type": "text/csv"})
        assert_error(r, 400, "bad_csv", "ragged row")
        assert r.json()["line"] == 100_002
        r = c.post("/v1/ingest?name=w", content=chunks(extra=1 << 20), headers={"content-type": "text/csv"})
        assert_error(r, 413, "too_large")
        assert c.get("/v1/datasets/w").json()["version"] == 1
    assert not [p for p in settings.scratch_dir.iterdir() if p.is_file()]


@pytest.mark.parametrize(
    ("body", "words", "line"),
    [
        (b"", ["empty"], 1),
        (b"id,name\n", ["no data rows"], 2),
        (b"id,id\n1,2\n", ["duplicate column name 'id'"], 1),
        (b"id,\n1,2\n", ["blank name"], 1),
        (b"id,name\n1,a\n2,b,c\n", ["ragged row"], 3),
        (b"id,name\n1,\xff\xfe\n", ["UTF-8"], 2),
    ],
)
def test_bad_csv_is_400_with_problem_and_line(client, body, words, line):
    r = post_csv(client, "people", body)
    assert assert_error(r, 400, "bad_csv", *words)["line"] == line


def test_bad_names_and_requests_are_400(client):
    assert_error(post_csv(client, "Bad-Name", CSV), 400, "invalid_name", "Bad-Name")
    assert_error(client.post("/v1/ingest", content=CSV), 400, "invalid_request", "name")
    r = client.post("/v1/ingest?name=people", files={"other": ("p.csv", CSV, "text/csv")})
    assert_error(r, 400, "bad_upload", "'file'")
    assert_error(post_csv(client, "people", b"{}", "application/json"), 415, "unsupported_media_type")


def test_datasets_list_and_get(client):
    post_csv(client, "people", CSV)
    post_csv(client, "towns", b"zip,town\n60601,Chicago\n")
    names = [d["name"] for d in client.get("/v1/datasets").json()["datasets"]]
    assert names == ["people", "towns"]
    m = client.get("/v1/datasets/towns").json()
    assert m["row_count"] == 1 and len(m["dataset_id"]) == 36 and len(m["fingerprint"]) == 64
    (version,) = m["versions"]  # one Iceberg snapshot, reading the one file ingest wrote
    assert version["files"] == [m["object_key"]] and isinstance(version["snapshot_id"], int)
    assert_error(client.get("/v1/datasets/nope"), 404, "not_found", "nope")


def test_sql_contract(client):
    post_csv(client, "people", CSV)
    r = client.post("/v1/sql", json={"sql": "SELECT name, zip FROM people ORDER BY id"})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"columns", "rows", "row_count", "truncated", "elapsed_ms"}
    assert body["columns"] == [{"name": "name", "type": "VARCHAR"}, {"name": "zip", "type": "VARCHAR"}]
    assert body["rows"] == [["ann", "00123"], ["bob", "60601"]]
    assert body["row_count"] == 2 and body["truncated"] is False
    limited = client.post("/v1/sql", json={"sql": "SELECT * FROM range(50)", "limit": 7}).json()
    assert limited["row_count"] == 7 and limited["truncated"] is True


def test_sql_sees_a_new_ingest_immediately(client):
    post_csv(client, "people", CSV)
    assert client.post("/v1/sql", json={"sql": "SELECT count(*) FROM people"}).json()["rows"] == [[2]]
    post_csv(client, "people", CSV + b"3,cy,60602\n")
    assert client.post("/v1/sql", json={"sql": "SELECT count(*) FROM people"}).json()["rows"] == [[3]]
    assert client.post("/v1/sql", json={"sql": "SELECT count(*) FROM people__v1"}).json()["rows"] == [[2]]


def test_sql_errors_are_400_with_a_reason(client):
    assert_error(client.post("/v1/sql", json={"sql": "DROP TABLE x"}), 400, "sql_refused", "DROP")
    r = client.post("/v1/sql", json={"sql": "SELECT * FROM read_csv('/etc/passwd')"})
    assert_error(r, 400, "sql_refused", "/etc/passwd")
    assert_error(client.post("/v1/sql", json={"sql": "SELECT * FROM nope"}), 400, "sql_error", "nope")
    r = client.post("/v1/sql", json={"sql": "SELECT count(*) FROM range(100000000000)", "timeout_ms": 100})
    assert_error(r, 400, "sql_timeout", "100 ms")
    assert_error(client.post("/v1/sql", json={}), 400, "invalid_request", "sql")
    assert_error(client.post("/v1/sql", json={"sql": "SELECT 1", "limit": -1}), 400, "invalid_request", "limit")
    assert_error(client.post("/v1/sql", json={"sql": "SELECT 1", "limit": 10**9}), 400, "sql_error", "largest")
    r = client.post("/v1/sql", json={"sql": "SELECT 1", "timeout_ms": 10**9})
    assert_error(r, 400, "sql_error", "timeout_ms 1000000000 is above the largest allowed")
    assert_error(client.post("/v1/sql", content=b"not json"), 400, "invalid_request")


def test_openapi_documents_the_routes(client):
    spec = client.get("/openapi.json").json()
    for path in ("/health", "/v1/datasets", "/v1/datasets/{name}", "/v1/ingest", "/v1/sql"):
        assert path in spec["paths"]
    assert "text/csv" in spec["paths"]["/v1/ingest"]["post"]["requestBody"]["content"]
    assert client.get("/docs").status_code == 200


def test_the_observer_names_every_documented_route_by_its_template(client):
    """The templates the observer records are the app's own paths, without asking for the OpenAPI schema."""
    spec = client.get("/openapi.json").json()
    templates = [template for _, template in client.app.state.route_templates]
    assert sorted(templates) == sorted(spec["paths"])
    assert endpoint_of(client.app, "/v1/datasets/people") == "/v1/datasets/{name}"
    assert endpoint_of(client.app, "/v1/vectors/staff/search") == "/v1/vectors/{index}/search"
    assert endpoint_of(client.app, "/v1/datasets") == "/v1/datasets"
    assert endpoint_of(client.app, "/v1/no-such-route") is None  # not recorded: see test_memory_api


def test_restarted_api_serves_what_was_ingested(api_settings):
    with TestClient(create_app(api_settings)) as c:
        assert post_csv(c, "people", CSV).status_code == 201
    with TestClient(create_app(api_settings)) as c:
        assert c.get("/v1/datasets/people").json()["version"] == 1
        assert c.post("/v1/sql", json={"sql": "SELECT count(*) FROM people"}).json()["rows"] == [[2]]


def test_sql_picks_up_datasets_registered_by_another_process(tmp_path: Path):
    settings = ApiSettings(home=tmp_path / "lake", report_to_dagster=False, catalog_refresh_seconds=0, _env_file=None)
    with TestClient(create_app(settings)) as client:
        assert client.post("/v1/sql", json={"sql": "SELECT 1"}).status_code == 200
        # A writer with its own catalog over the same lake (what a Dagster run is).
        ingest_csv(io.BytesIO(b"zip,town\n60601,Chicago\n"), "towns", lake=Lake.open(settings), limits=IngestLimits())
        r = client.post("/v1/sql", json={"sql": "SELECT town FROM towns"})
        assert r.status_code == 200 and r.json()["rows"] == [["Chicago"]]
        assert [d["name"] for d in client.get("/v1/datasets").json()["datasets"]] == ["towns"]


def test_unexpected_errors_are_json_500s(api_settings, monkeypatch):
    from lakehouse_assets.core.lake.catalog import Catalog as CatalogClass

    def boom(self):
        raise OSError("disk on fire")

    with TestClient(create_app(api_settings), raise_server_exceptions=False) as client:
        monkeypatch.setattr(CatalogClass, "list", boom)
        r = client.get("/v1/datasets")
    assert r.status_code == 500
    assert r.json() == {"error": "internal", "message": "internal error: OSError"}


def test_validate_route_statuses_and_tagged_errors(client):
    post_csv(client, "workers", b"worker_id,availability,shift\n1,available,night\n2,unavailable,night\n")
    ok = client.post("/v1/validate", json={"kind": "sms", "payload": {"to": "+13125550147", "body": "Shift at 7am."}})
    assert ok.status_code == 200 and ok.json()["ok"] is True
    fill = {"contract_id": "c", "target_count": 2, "candidates": [{"worker_id": 1, "reason": "fits"}]}
    assert client.post("/v1/validate", json={"kind": "fill", "payload": fill, "context": {"shift": "night"}}).json()[
        "ok"
    ]
    phantom = {**fill, "candidates": [{"worker_id": 99, "reason": "made up"}]}
    r = client.post("/v1/validate", json={"kind": "fill", "payload": phantom})
    assert r.status_code == 422 and r.json() == {"Consistency": {"reason": "worker 99 is not in the roster"}}
    r = client.post(
        "/v1/validate", json={"kind": "email", "payload": {"to": "a@b.co", "subject": "x", "body": "123-45-6789"}}
    )
    assert r.status_code == 422 and list(r.json()) == ["Policy"]
    assert_error(client.post("/v1/validate", json={"kind": "tweet", "payload": {}}), 400, "unknown_kind", "tweet")
