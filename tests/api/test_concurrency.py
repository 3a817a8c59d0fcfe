"""Under load, over real HTTP: the in-flight cap answers 503 with Retry-After (and nothing else
fails), and an ingest runs while 20 clients query SQL and search vectors, with no lock errors."""

from __future__ import annotations

import io
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pyarrow.csv as pacsv

from api.main import create_app
from api.settings import ApiSettings
from lakehouse_assets.core.sample.generate import generate_workers
from tests.fakes.llm_servers import FakeLLMServer, Reply
from tests.live_server import serve


def settings_for(tmp_path: Path, **kw) -> ApiSettings:
    return ApiSettings(home=tmp_path / "lake", report_to_dagster=False, warm_embedder=False, _env_file=None, **kw)


def test_past_the_cap_requests_get_503_with_retry_after(tmp_path, ollama: FakeLLMServer):
    ollama.then(*[Reply(content="slow", delay=1.5)] * 8)
    app = create_app(settings_for(tmp_path, api_max_in_flight=2, ollama_host=ollama.url))
    body = {"model": "qwen3.5:latest", "messages": [{"role": "user", "content": "hi"}]}
    with serve(app) as url, ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(lambda _: httpx.post(f"{url}/v1/chat", json=body, timeout=30), range(6)))
        health = httpx.get(f"{url}/health")  # outside /v1: never capped
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 200, 503, 503, 503, 503]
    for r in responses:
        if r.status_code == 503:
            assert r.headers["retry-after"] == "1" and r.json()["error"] == "overloaded"
    assert health.status_code == 200


def test_ingest_while_20_clients_query_sql_and_search(tmp_path):
    app = create_app(settings_for(tmp_path, api_max_in_flight=16))
    first, second = io.BytesIO(), io.BytesIO()
    pacsv.write_csv(generate_workers(2000, seed=1), first)
    pacsv.write_csv(generate_workers(60_000, seed=2), second)
    rng = random.Random(7)
    with serve(app) as url:
        client = httpx.Client(base_url=url, timeout=60)
        csv = {"content-type": "text/csv"}
        assert client.post("/v1/ingest?name=workers", content=first.getvalue(), headers=csv).status_code == 201
        assert client.post("/v1/vectors/points", json={"model": "test-8d", "dimension": 8}).status_code == 201
        items = [
            {"id": str(i), "vector": [rng.random() for _ in range(8)], "metadata": {"g": i % 5}} for i in range(500)
        ]
        assert client.post("/v1/vectors/points/add", json={"items": items}).status_code == 200

        def sql(i: int) -> httpx.Response:
            return client.post(
                "/v1/sql", json={"sql": f"SELECT count(*), avg(hourly_rate) FROM workers WHERE worker_id > {i}"}
            )

        def search(i: int) -> httpx.Response:
            body = {"vector": [rng.random() for _ in range(8)], "k": 5, "filter": {"g": i % 5}}
            return client.post("/v1/vectors/points/search", json=body)

        with ThreadPoolExecutor(21) as pool:
            ingest = pool.submit(client.post, "/v1/ingest?name=workers", content=second.getvalue(), headers=csv)
            calls = [pool.submit(sql if i % 2 else search, i) for i in range(400)]
            results = [c.result() for c in calls]
            assert ingest.result().status_code == 201, ingest.result().text
        final = client.post("/v1/sql", json={"sql": "SELECT count(*) FROM workers"}).json()
    bad = [(r.status_code, r.text) for r in results if r.status_code not in (200, 503)]
    assert bad == []
    assert all(r.headers.get("retry-after") for r in results if r.status_code == 503)
    assert sum(r.status_code == 200 for r in results) >= 200
    assert final["rows"] == [[60_000]]  # the ingest landed whole, never half
    for r in results:
        if r.status_code == 200 and "rows" in r.json():
            assert r.json()["rows"][0][0] is not None


def test_stalled_uploads_and_long_calls_leave_the_rest_of_the_api_its_threads(tmp_path, ollama: FakeLLMServer):
    """Before: sync routes and ingest conversions shared AnyIO's 40 threads, so 41 uploads a client trickled
    froze /health and every sync route. Now uploads and LLM calls have bounds of their own (503 naming the
    setting past them) and every request the cap admits can have a thread."""
    import socket

    ollama.then(*[Reply(content="slow", delay=3.0)] * 4)
    settings = settings_for(tmp_path, api_max_ingests=2, api_max_llm_calls=1, ollama_host=ollama.url)
    with serve(create_app(settings)) as url:
        port = int(url.rsplit(":", 1)[1])
        stalled = []
        try:
            for _ in range(45):
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                s.sendall(b"POST /v1/ingest?name=w HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                          b"Content-Length: 100000\r\n\r\nid,name\n1,a\n")  # fmt: skip
                stalled.append(s)
            refused = [s.recv(400) for s in stalled[2:]]  # past the two slots: answered at once
            assert all(r.startswith(b"HTTP/1.1 503") and b"LAKEHOUSE_API_MAX_INGESTS" in r for r in refused)
            body = {"model": "qwen3.5:latest", "messages": [{"role": "user", "content": "hi"}]}
            with ThreadPoolExecutor(2) as pool:
                long_calls = [pool.submit(httpx.post, f"{url}/v1/chat", json=body, timeout=30) for _ in range(2)]
                answers = sorted(f.result().status_code for f in long_calls)
            assert answers == [200, 503]
            assert httpx.get(f"{url}/health", timeout=5).status_code == 200
            r = httpx.post(f"{url}/v1/sql", json={"sql": "SELECT 1"}, timeout=5)
            assert r.status_code == 200 and r.json()["rows"] == [[1]]
            assert httpx.get(f"{url}/v1/datasets", timeout=5).json() == {"datasets": []}
        finally:
            for s in stalled:
                s.close()


def test_a_call_naming_too_many_fallbacks_is_400(tmp_path):
    from fastapi.testclient import TestClient

    with TestClient(create_app(settings_for(tmp_path, chat_max_fallbacks=2))) as c:
        body = {"model": "qwen3.5:latest", "messages": [{"role": "user", "content": "hi"}], "fallbacks": ["a"] * 3}
        r = c.post("/v1/chat", json=body)
        assert r.status_code == 400 and "LAKEHOUSE_CHAT_MAX_FALLBACKS" in r.json()["message"]
