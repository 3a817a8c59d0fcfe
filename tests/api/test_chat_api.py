"""/v1/chat, /v1/chat/providers, the OpenAI-compatible /v1/chat/completions (driven by the `openai`
package) and /v1/iterate, against fake Ollama and OpenAI-compatible servers on loopback."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import ApiSettings
from lakehouse_assets.core.ingest.csv import IngestLimits, ingest_csv
from lakehouse_assets.core.lake.handle import Lake
from lakehouse_assets.core.memory.journal import DailyJournal
from tests.fakes.llm_servers import Reply

HI = [{"role": "user", "content": "Reply with OK."}]


@pytest.fixture
def api_settings(tmp_path: Path, ollama, openrouter) -> ApiSettings:
    return ApiSettings(
        home=tmp_path / "lake",
        report_to_dagster=False,
        warm_embedder=False,
        ollama_host=ollama.url,
        openrouter_url=openrouter.url,
        openrouter_api_key="or-key",
        chat_backoff_seconds=0.01,
        chat_retries=1,
        frontier_review=["openrouter/anthropic/claude-opus-4-7", "qwen3.5:latest"],
        _env_file=None,
    )


@pytest.fixture
def client(api_settings: ApiSettings) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings)) as c:
        yield c


def test_providers_lists_exactly_the_registered_ones(client, ollama, openrouter):
    body = client.get("/v1/chat/providers").json()
    assert body["providers"] == [
        {"name": "ollama", "protocol": "ollama", "base_url": ollama.url},
        {"name": "openrouter", "protocol": "openai", "base_url": openrouter.url},
    ]
    assert body["unregistered"] == {
        "ollama_cloud": "OLLAMA_API_KEY",
        "opencode": "OPENCODE_API_KEY",
        "kimi": "KIMI_API_KEY",
    }
    assert body["tiers"]["frontier_review"] == ["openrouter/anthropic/claude-opus-4-7", "qwen3.5:latest"]


def test_credentials_in_a_provider_url_are_never_shown(tmp_path, openrouter):
    """Before: /v1/chat/providers echoed base URLs word for word, user:password and key parameters included."""
    secret_url = openrouter.url.replace("http://", "http://alice:hunter2-secret@") + "?key=sk-leak"
    settings = ApiSettings(
        home=tmp_path / "lake", report_to_dagster=False, warm_embedder=False, ollama_host="http://bob:pw-secret@127.0.0.1:9",
        openrouter_url=secret_url, openrouter_api_key="or-key", chat_retries=0, _env_file=None,
    )  # fmt: skip
    with TestClient(create_app(settings)) as c:
        listing = c.get("/v1/chat/providers").text
        failed = c.post("/v1/chat", json={"model": "qwen3.5:latest", "messages": HI}).text  # unreachable: names the URL
    for text in (listing, failed):
        assert "secret" not in text and "sk-leak" not in text and "alice" not in text, text
    assert "127.0.0.1:9" in failed


def test_chat_through_local_ollama(client, ollama):
    ollama.then(Reply(content="OK"))
    r = client.post("/v1/chat", json={"model": "qwen3.5:latest", "messages": HI, "max_tokens": 8})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["content"] == "OK" and body["provider"] == "ollama" and body["model"] == "qwen3.5:latest"
    assert body["prompt_tokens"] == 3 and body["completion_tokens"] == 1 and body["total_tokens"] == 4
    assert body["finish_reason"] == "stop" and body["latency_ms"] > 0 and body["failed_attempts"] == []
    assert ollama.requests[-1].body["options"] == {"num_predict": 8}


def test_chat_format_json_and_temperature(client, openrouter):
    r = client.post(
        "/v1/chat",
        json={"model": "openrouter/a/b", "messages": HI, "format": "json", "temperature": 0.3},
    )
    assert r.status_code == 200 and r.json()["provider"] == "openrouter"
    sent = openrouter.requests[-1].body
    assert sent["model"] == "a/b" and sent["temperature"] == 0.3 and sent["response_format"] == {"type": "json_object"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"messages": HI}, "model is required"),
        ({"model": "qwen3.5:latest"}, "messages"),
        ({"model": "qwen3.5:latest", "messages": []}, "messages"),
        ({"model": "qwen3.5:latest", "messages": [{"role": "wizard", "content": "x"}]}, "role"),
        ({"model": "qwen3.5:latest", "messages": HI, "temperature": 5}, "temperature"),
        ({"tier": "nope", "messages": HI}, "unknown tier 'nope'"),
        ({"model": "openrouter/claude", "messages": HI}, "openrouter/<vendor>/<model>"),
    ],
)
def test_bad_chat_requests_are_400_naming_the_problem(client, ollama, body, field):
    r = client.post("/v1/chat", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_request" and field in r.json()["message"]
    assert ollama.requests == []


def test_unconfigured_provider_is_404_naming_it(client):
    r = client.post("/v1/chat", json={"model": "kimi-k2.6:cloud", "messages": HI})
    assert r.status_code == 404
    body = r.json()
    assert body["error"] == "provider_not_registered"
    assert "'ollama_cloud'" in body["message"] and "OLLAMA_API_KEY" in body["message"]


def test_upstream_failure_is_502_with_the_upstream_status_and_the_attempts(client, ollama):
    ollama.then(Reply(status=500, error="model crashed"), Reply(status=503, error="still down"))
    r = client.post("/v1/chat", json={"model": "qwen3.5:latest", "messages": HI})
    assert r.status_code == 502
    body = r.json()
    assert body == {
        "error": "upstream_error",
        "message": "ollama answered 503: still down",
        "upstream_status": 503,
        "attempts": [
            {
                "model": "qwen3.5:latest",
                "provider": "ollama",
                "status": 502,
                "error": "ollama answered 500: model crashed",
            },
            {
                "model": "qwen3.5:latest",
                "provider": "ollama",
                "status": 502,
                "error": "ollama answered 503: still down",
            },
        ],
    }


def test_upstream_429_is_passed_on_with_retry_after(client, openrouter):
    openrouter.then(Reply(status=429, error="Rate limit reached", headers={"Retry-After": "20"}))
    r = client.post("/v1/chat", json={"model": "openrouter/a/b", "messages": HI})
    assert r.status_code == 429
    assert r.headers["retry-after"] == "20"
    assert r.json()["error"] == "rate_limited" and "Rate limit reached" in r.json()["message"]


def test_slow_upstream_is_504(client, ollama):
    ollama.then(Reply(content="late", delay=1.5))
    r = client.post("/v1/chat", json={"model": "qwen3.5:latest", "messages": HI, "timeout": 0.4})
    assert r.status_code == 504 and r.json()["error"] == "upstream_timeout"


def test_tier_falls_back_and_says_who_answered(client, openrouter, ollama):
    openrouter.then(Reply(status=502), Reply(status=502))
    ollama.then(Reply(content="local answer"))
    r = client.post("/v1/chat", json={"tier": "frontier_review", "messages": HI})
    assert r.status_code == 200
    body = r.json()
    assert body["model"] == "qwen3.5:latest" and body["provider"] == "ollama" and body["content"] == "local answer"
    assert [a["model"] for a in body["failed_attempts"]] == ["openrouter/anthropic/claude-opus-4-7"] * 2


# -- OpenAI-compatible, driven by the openai package -------------------------------------------


@pytest.fixture
def oai(client) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{client.base_url}/v1", api_key="unused", http_client=client, max_retries=0)


def test_openai_client_works_unchanged(oai, ollama):
    ollama.then(Reply(content="Hello from the lakehouse"))
    completion = oai.chat.completions.create(
        model="qwen3.5:latest",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        max_tokens=16,
    )
    assert completion.choices[0].message.content == "Hello from the lakehouse"
    assert completion.choices[0].finish_reason == "stop" and completion.model == "qwen3.5:latest"
    assert completion.usage.prompt_tokens == 3 and completion.usage.completion_tokens == 4
    assert ollama.requests[-1].body["messages"][0] == {"role": "system", "content": "Be brief."}


def test_openai_client_streaming_and_json_mode(oai, openrouter):
    openrouter.then(Reply(content='{"ok": true}'))
    stream = oai.chat.completions.create(
        model="openrouter/a/b",
        messages=[{"role": "user", "content": [{"type": "text", "text": "json please"}]}],
        response_format={"type": "json_object"},
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == '{"ok": true}'
    assert chunks[-1].usage.total_tokens == 4
    assert openrouter.requests[-1].body["response_format"] == {"type": "json_object"}
    assert openrouter.requests[-1].body["messages"] == [{"role": "user", "content": "json please"}]


def test_openai_client_sees_openai_shaped_errors(oai, openrouter):
    with pytest.raises(openai.NotFoundError) as missing:
        oai.chat.completions.create(model="opencode/x", messages=HI)
    assert "OPENCODE_API_KEY" in missing.value.message
    openrouter.then(Reply(status=429, error="slow down", headers={"Retry-After": "30"}))
    with pytest.raises(openai.RateLimitError) as limited:
        oai.chat.completions.create(model="openrouter/a/b", messages=HI)
    assert limited.value.response.headers["retry-after"] == "30"
    assert limited.value.body["type"] == "rate_limit_error"
    with pytest.raises(openai.BadRequestError):
        oai.chat.completions.create(model="qwen3.5:latest", messages=[], max_tokens=1)


# -- /v1/iterate --------------------------------------------------------------------------------

ROSTER = b"worker_id,name,availability,shift\n1,Ann,available,night\n3,Cy,available,night\n"


def fill(*ids: str) -> str:
    return json.dumps(
        {"contract_id": "C-9", "target_count": 2, "candidates": [{"worker_id": i, "reason": "fits"} for i in ids]}
    )


def test_iterate_retries_with_feedback_and_journals_the_session(client, api_settings, ollama):
    ingest_csv(io.BytesIO(ROSTER), "workers", lake=Lake.open(api_settings), limits=IngestLimits())
    ollama.then(Reply(content="I cannot decide."), Reply(content=fill("1", "77")), Reply(content=fill("1", "3")))
    r = client.post(
        "/v1/iterate",
        json={
            "prompt": "Fill C-9 with two night workers.",
            "kind": "fill",
            "model": "local_fast",
            "context": {"shift": "night"},
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"] and body["verdict"] == "accepted" and body["grounded_in_roster"] is True
    assert [a["verdict"] for a in body["attempts"]] == ["invalid_json", "rejected", "accepted"]
    assert body["attempts"][1]["error"] == {"Consistency": {"reason": "worker 77 is not in the roster"}}
    assert "worker 77 is not in the roster" in body["attempts"][2]["prompt"]
    assert body["value"]["contract_id"] == "C-9" and body["validation"]["filled"] == 2
    assert body["total_tokens"] == sum(a["prompt_tokens"] + a["completion_tokens"] for a in body["attempts"])
    assert body["answered_by"] == "qwen3.5:latest" and body["model"] == "local_fast"

    journal = DailyJournal(api_settings.session_log_dir)
    [record] = journal.day(journal.days()[0]).replay().records
    assert record["session_id"] == body["session_id"] and record["schema"] == "session.iterate.v1"


def test_iterate_bad_requests(client, ollama):
    r = client.post("/v1/iterate", json={"prompt": "x", "kind": "tweet", "model": "qwen3.5:latest"})
    assert r.status_code == 400 and r.json()["error"] == "unknown_kind"
    r = client.post("/v1/iterate", json={"prompt": "x", "kind": "sms"})
    assert r.status_code == 400 and "model is required" in r.json()["message"]
    r = client.post("/v1/iterate", json={"prompt": "x", "kind": "sms", "model": "m", "max_iterations": 50})
    assert r.status_code == 400 and "max_iterations" in r.json()["message"]
    assert ollama.requests == []


def test_iterate_fill_without_a_roster_dataset_is_404(client, ollama):
    ollama.then(Reply(content=fill("1")))
    r = client.post("/v1/iterate", json={"prompt": "Fill it.", "kind": "fill", "model": "qwen3.5:latest"})
    assert r.status_code == 404 and "workers" in r.json()["message"]


def test_docs_cover_the_chat_and_validation_routes(client):
    spec = client.get("/openapi.json").json()
    for path in ("/v1/chat", "/v1/chat/providers", "/v1/chat/completions", "/v1/iterate", "/v1/validate"):
        assert path in spec["paths"], path
    assert client.get("/docs").status_code == 200
