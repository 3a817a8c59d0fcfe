"""/v1/pathway and /v1/observer over HTTP, and the middleware that witnesses every /v1 call."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.deps import get_pathway
from api.main import create_app
from api.settings import ApiSettings
from lakehouse_assets.core.memory.pathway import PathwayMemory
from tests.core.memory.test_pathway import bag_of_words


def make_settings(tmp_path: Path, **kw) -> ApiSettings:
    return ApiSettings(home=tmp_path / "lake", report_to_dagster=False, warm_embedder=False, _env_file=None, **kw)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = make_settings(tmp_path)
    app = create_app(settings)
    memory = PathwayMemory(settings.pathway_log_path, embed=bag_of_words)
    app.dependency_overrides[get_pathway] = lambda: memory
    with TestClient(app) as c:
        yield c


def test_pathway_lifecycle_over_http(client):
    r = client.post("/v1/pathway/traces", json={"content": {"text": "night welders Ohio"}, "tags": ["fill"]})
    assert r.status_code == 201
    uid = r.json()["uid"]
    again = client.post("/v1/pathway/traces", json={"content": {"text": "night welders Ohio"}, "idempotent": True})
    assert again.status_code == 200 and again.json()["uid"] == uid and again.json()["replay_count"] == 1

    updated = client.put(f"/v1/pathway/traces/{uid}", json={"content": {"text": "night welders in Ohio"}})
    assert updated.status_code == 200 and updated.json()["version"] == 2 and updated.json()["tags"] == ["fill"]
    revised = client.post(f"/v1/pathway/traces/{uid}/revise", json={"content": {"text": "day welders Ohio"}})
    assert revised.status_code == 201 and revised.json()["predecessor"] == uid
    new = revised.json()["uid"]

    history = client.get(f"/v1/pathway/traces/{new}/history").json()
    assert [t["uid"] for t in history["traces"]] == [new, uid] and history["end"] == "origin"

    hits = client.post("/v1/pathway/search", json={"text": "welders Ohio night", "k": 2}).json()["hits"]
    assert hits[0]["trace"]["uid"] == uid and hits[0]["score"] >= hits[1]["score"]
    assert client.post(f"/v1/pathway/traces/{uid}/retire").json()["retired"] is True
    hits = client.post("/v1/pathway/search", json={"text": "welders Ohio night"}).json()["hits"]
    assert [h["trace"]["uid"] for h in hits] == [new]
    assert client.get(f"/v1/pathway/traces/{uid}").status_code == 200  # retired, still readable

    stats = client.get("/v1/pathway/stats").json()
    assert stats["traces"] == 2 and stats["retired"] == 1 and stats["replays"] == 1 and stats["skipped_lines"] == 0


def test_pathway_errors(client):
    r = client.get("/v1/pathway/traces/nope")
    assert r.status_code == 404 and r.json() == {"error": "not_found", "message": "trace 'nope' not found"}
    uid = client.post("/v1/pathway/traces", json={"content": [1, 2]}).json()["uid"]
    client.post(f"/v1/pathway/traces/{uid}/retire")
    r = client.put(f"/v1/pathway/traces/{uid}", json={"content": [3]})
    assert r.status_code == 409 and r.json()["error"] == "trace_retired"
    r = client.post("/v1/pathway/traces", json={"tags": ["x"]})
    assert r.status_code == 400 and r.json()["error"] in ("invalid_request", "invalid_trace")
    r = client.post("/v1/pathway/traces", json={"content": {"a": 1}, "tags": [""]})
    assert r.status_code == 400 and "tags" in r.json()["message"]


def test_observer_event_and_stats(client):
    r = client.post(
        "/v1/observer/event",
        json={"endpoint": "fill_scenario", "source": "scenario", "ok": False, "latency_ms": 12, "error": "timeout"},
    )
    assert r.status_code == 201 and r.json()["timestamp"].endswith("Z")
    for bad in (
        {"source": "mcp", "ok": True},
        {"endpoint": "x", "source": "cron", "ok": True},
        {"endpoint": "x", "source": "mcp"},
    ):
        assert client.post("/v1/observer/event", json=bad).status_code == 400
    stats = client.get("/v1/observer/stats").json()
    assert stats["recent_scenario"][0]["error"] == "timeout" and stats["by_source"]["scenario"] == 1


def test_middleware_records_every_v1_call_by_route(client):
    client.get("/v1/datasets")
    client.get("/v1/datasets/missing")
    client.get("/health")
    client.app.state.services.observer.flush()
    stats = client.get("/v1/observer/stats").json()
    endpoints = stats["by_endpoint"]
    assert endpoints["/v1/datasets"]["count"] == 1 and endpoints["/v1/datasets"]["errors"] == 0
    assert endpoints["/v1/datasets/{name}"] == {
        "count": 1,
        "errors": 1,
        "error_rate": 1.0,
        "p50_ms": endpoints["/v1/datasets/{name}"]["p50_ms"],
        "p99_ms": endpoints["/v1/datasets/{name}"]["p99_ms"],
    }
    assert not any(e.startswith("/v1/observer") or e == "/health" for e in endpoints)  # not its own calls


def test_only_routed_authorized_calls_are_recorded_and_fields_are_bounded(tmp_path):
    """Before: the middleware ran ahead of auth and journaled any path word for word, and an event's endpoint
    and error had no length limit."""
    token = "observer-test-token-0042"
    with TestClient(create_app(make_settings(tmp_path, api_token=token))) as c:
        auth = {"Authorization": f"Bearer {token}"}
        c.get("/v1/" + "x" * 5000)  # anonymous, unrouted
        c.get("/v1/datasets")  # anonymous, routed: refused before the observer
        c.get("/v1/" + "y" * 5000, headers=auth)  # authorized, unrouted
        c.get("/v1/datasets", headers=auth)
        for field, size in (("endpoint", 201), ("error", 2001), ("method", 17)):
            event = {"endpoint": "x", "source": "api", "ok": False, field: "z" * size}
            r = c.post("/v1/observer/event", json=event, headers=auth)
            assert r.status_code == 400 and field in r.json()["message"], r.text
        c.app.state.services.observer.flush()
        stats = c.get("/v1/observer/stats", headers=auth).json()
        assert stats["by_endpoint"] == {"/v1/datasets": stats["by_endpoint"]["/v1/datasets"]}
        assert stats["by_endpoint"]["/v1/datasets"]["count"] == 1 and stats["recorded"] == 1
        journal = b"".join(p.read_bytes() for p in (tmp_path / "lake").rglob("*.jsonl"))
        assert b"xxxxx" not in journal and b"yyyyy" not in journal


def test_sampling_zero_records_nothing(tmp_path):
    with TestClient(create_app(make_settings(tmp_path, observer_sample_rate=0.0))) as c:
        c.get("/v1/datasets")
        c.app.state.services.observer.flush()
        assert c.get("/v1/observer/stats").json()["by_endpoint"] == {}
