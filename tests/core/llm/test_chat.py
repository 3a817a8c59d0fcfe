"""The chat router against fake Ollama and OpenAI-compatible servers on loopback (real HTTP)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from lakehouse_assets.core.llm.chat import (
    ChatRequest,
    InvalidChatRequest,
    ProviderNotRegistered,
    Route,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnreachable,
    chat_router_from_settings,
    route,
)
from lakehouse_assets.core.llm.chat.router import ChatRouter
from lakehouse_assets.core.settings import LakehouseSettings
from tests.fakes.llm_servers import FakeLLMServer, Reply

HI = ChatRequest.of([{"role": "user", "content": "reply with OK"}])


@pytest.fixture
def cloud() -> Iterator[FakeLLMServer]:
    with FakeLLMServer("ollama", api_key="cloud-key") as server:
        yield server


@pytest.fixture
def kimi() -> Iterator[FakeLLMServer]:
    with FakeLLMServer("openai", api_key="kimi-key", base_path="/coding/v1") as server:
        yield server


def _settings(tmp_path, **kw) -> LakehouseSettings:
    base = {"home": tmp_path, "chat_backoff_seconds": 0.01, "chat_timeout_seconds": 10.0, "_env_file": None}
    return LakehouseSettings(**{**base, **kw})


@pytest.fixture
def router(tmp_path, ollama, cloud, openrouter, kimi) -> Iterator[ChatRouter]:
    r = chat_router_from_settings(
        _settings(
            tmp_path,
            ollama_host=ollama.url,
            ollama_cloud_url=cloud.url,
            ollama_cloud_api_key="cloud-key",
            openrouter_url=openrouter.url,
            openrouter_api_key="or-key",
            kimi_url=kimi.url,
            kimi_api_key="kimi-key",
            local_fast=["qwen3.5:latest"],
            frontier_review=["openrouter/anthropic/claude-opus-4-7", "kimi/kimi-for-coding"],
        )
    )
    yield r
    r.close()


@pytest.mark.parametrize(
    ("model", "provider", "upstream"),
    [
        ("qwen3.5:latest", "ollama", "qwen3.5:latest"),
        ("ollama/qwen3.5:latest", "ollama", "qwen3.5:latest"),
        ("ollama_cloud/gpt-oss:120b", "ollama_cloud", "gpt-oss:120b"),
        ("kimi-k2.6:cloud", "ollama_cloud", "kimi-k2.6"),
        ("openrouter/anthropic/claude-opus-4-7", "openrouter", "anthropic/claude-opus-4-7"),
        ("opencode/claude-opus-4-7", "opencode", "claude-opus-4-7"),
        ("kimi/kimi-for-coding", "kimi", "kimi-for-coding"),
        ("unknown/model", "ollama", "unknown/model"),
        ("  llama3  ", "ollama", "llama3"),
    ],
)
def test_routing_by_model_name(model: str, provider: str, upstream: str) -> None:
    assert route(model) == Route(provider, upstream)


@pytest.mark.parametrize("model", ["", "   ", "ollama/", "openrouter/claude", "kimi/"])
def test_unroutable_names_are_bad_requests(model: str) -> None:
    with pytest.raises(InvalidChatRequest):
        route(model)


def test_bare_model_goes_to_local_ollama_with_thinking_off(router: ChatRouter, ollama: FakeLLMServer) -> None:
    ollama.then(Reply(content="OK from local"))
    result = router.chat(HI, model="qwen3.5:latest")
    assert (result.content, result.provider, result.model) == ("OK from local", "ollama", "qwen3.5:latest")
    assert result.prompt_tokens == 3 and result.completion_tokens == 3 and result.finish_reason == "stop"
    assert result.latency_ms > 0
    sent = ollama.requests[-1]
    assert sent.path == "/api/chat"
    assert sent.body["think"] is False and sent.body["stream"] is False
    assert "temperature" not in (sent.body.get("options") or {})


def test_prefix_is_stripped_and_options_are_sent(router: ChatRouter, ollama: FakeLLMServer) -> None:
    request = ChatRequest.of(
        [{"role": "user", "content": "json please"}], max_tokens=12, temperature=0.2, json_format=True
    )
    router.chat(request, model="ollama/qwen3:latest")
    sent = ollama.requests[-1].body
    assert sent["model"] == "qwen3:latest"
    assert sent["format"] == "json"
    assert sent["options"] == {"num_predict": 12, "temperature": 0.2}


def test_cloud_suffix_goes_to_ollama_cloud_with_the_bearer_key(router: ChatRouter, cloud: FakeLLMServer) -> None:
    result = router.chat(HI, model="kimi-k2.6:cloud")
    assert result.provider == "ollama_cloud" and result.model == "kimi-k2.6:cloud"
    sent = cloud.requests[-1]
    assert sent.headers["authorization"] == "Bearer cloud-key"
    assert sent.body["model"] == "kimi-k2.6" and sent.body["think"] is False


def test_openai_compatible_provider(router: ChatRouter, openrouter: FakeLLMServer) -> None:
    openrouter.then(Reply(content='{"ok": true}', finish_reason="length"))
    request = ChatRequest.of([{"role": "user", "content": "hi"}], max_tokens=5, json_format=True)
    result = router.chat(request, model="openrouter/anthropic/claude-opus-4-7")
    assert result.content == '{"ok": true}' and result.finish_reason == "length"
    assert (result.provider, result.upstream_model) == ("openrouter", "anthropic/claude-opus-4-7")
    sent = openrouter.requests[-1]
    assert sent.path == "/api/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer or-key"
    assert sent.body["model"] == "anthropic/claude-opus-4-7"
    assert sent.body["max_tokens"] == 5 and sent.body["response_format"] == {"type": "json_object"}
    assert "temperature" not in sent.body  # omitted when the caller did not set it


def test_temperature_is_sent_when_given(router: ChatRouter, kimi: FakeLLMServer) -> None:
    router.chat(ChatRequest.of([{"role": "user", "content": "hi"}], temperature=0.0), model="kimi/kimi-for-coding")
    assert kimi.requests[-1].body["temperature"] == 0.0
    assert kimi.requests[-1].headers["authorization"] == "Bearer kimi-key"


def test_provider_without_a_key_is_not_registered(router: ChatRouter) -> None:
    assert {p.name for p in router.providers()} == {"ollama", "ollama_cloud", "openrouter", "kimi"}
    with pytest.raises(ProviderNotRegistered, match=r"'opencode'.*OPENCODE_API_KEY"):
        router.chat(HI, model="opencode/claude-opus-4-7")


def test_keys_come_from_the_environment_or_the_env_file(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", "from-env")
    env_file = tmp_path / "keys.env"
    env_file.write_text("KIMI_API_KEY=from-file\nOPENCODE_API_KEY=\n")
    settings = LakehouseSettings(home=tmp_path, _env_file=env_file)
    r = chat_router_from_settings(settings)
    try:
        names = {p.name for p in r.providers()}
        assert names == {"ollama", "openrouter", "kimi"}  # an empty key does not register opencode
        assert r.missing_keys == {"ollama_cloud": "OLLAMA_API_KEY", "opencode": "OPENCODE_API_KEY"}
    finally:
        r.close()


def test_upstream_5xx_is_retried_then_answers(router: ChatRouter, openrouter: FakeLLMServer) -> None:
    openrouter.then(Reply(status=503, error="overloaded"), Reply(status=500), Reply(content="third time"))
    result = router.chat(HI, model="openrouter/anthropic/claude-opus-4-7")
    assert result.content == "third time"
    assert [f.status for f in result.failed_attempts] == [502, 502]
    assert "503" in result.failed_attempts[0].error and "overloaded" in result.failed_attempts[0].error
    assert len(openrouter.requests) == 3


def test_upstream_failure_carries_the_upstream_status(router: ChatRouter, ollama: FakeLLMServer) -> None:
    ollama.then(*[Reply(status=500, error="model crashed")] * 3)
    with pytest.raises(UpstreamError) as info:
        router.chat(HI, model="qwen3.5:latest")
    assert info.value.status == 502 and info.value.upstream_status == 500
    assert "model crashed" in str(info.value)
    assert len(info.value.failed_attempts) == 3  # first try + 2 retries


def test_client_errors_are_not_retried(router: ChatRouter, ollama: FakeLLMServer) -> None:
    ollama.models = {"qwen3.5:latest"}
    with pytest.raises(UpstreamError) as info:
        router.chat(HI, model="ollama/missing-model")
    assert info.value.upstream_status == 404 and "not found" in str(info.value)
    assert len(ollama.requests) == 1


def test_rate_limit_is_passed_on_with_retry_after(router: ChatRouter, openrouter: FakeLLMServer) -> None:
    # Retry-After longer than the router will wait: no retry, the 429 goes back to the caller.
    openrouter.then(Reply(status=429, error="slow down", headers={"Retry-After": "30"}))
    with pytest.raises(UpstreamRateLimited) as info:
        router.chat(HI, model="openrouter/anthropic/claude-opus-4-7")
    assert info.value.status == 429 and info.value.retry_after == 30.0
    assert len(openrouter.requests) == 1


def test_short_retry_after_is_honoured(router: ChatRouter, cloud: FakeLLMServer) -> None:
    cloud.then(Reply(status=429, headers={"Retry-After": "0.2"}), Reply(content="after waiting"))
    started = time.monotonic()
    result = router.chat(HI, model="ollama_cloud/gpt-oss:120b")
    assert result.content == "after waiting"
    assert time.monotonic() - started >= 0.2
    assert result.failed_attempts[0].status == 429


def test_slow_upstream_is_a_timeout(router: ChatRouter, ollama: FakeLLMServer) -> None:
    ollama.then(Reply(content="too late", delay=2.0))
    request = ChatRequest.of([{"role": "user", "content": "hi"}], timeout=0.5)
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout) as info:
        router.chat(request, model="qwen3.5:latest")
    assert info.value.status == 504
    assert time.monotonic() - started < 1.8


def test_unreachable_upstream(tmp_path) -> None:
    r = chat_router_from_settings(_settings(tmp_path, ollama_host="http://127.0.0.1:9", chat_retries=0))
    try:
        with pytest.raises(UpstreamUnreachable) as info:
            r.chat(HI, model="qwen3.5:latest")
        assert info.value.status == 502
    finally:
        r.close()


def test_tier_falls_back_in_order_and_says_who_answered(
    router: ChatRouter, openrouter: FakeLLMServer, kimi: FakeLLMServer
) -> None:
    openrouter.then(*[Reply(status=502, error="upstream down")] * 3)
    kimi.then(Reply(content="kimi here"))
    result = router.chat(HI, tier="frontier_review")
    assert (result.model, result.provider, result.content) == ("kimi/kimi-for-coding", "kimi", "kimi here")
    assert [f.model for f in result.failed_attempts] == ["openrouter/anthropic/claude-opus-4-7"] * 3


def test_a_tier_name_works_as_the_model(router: ChatRouter, ollama: FakeLLMServer) -> None:
    result = router.chat(HI, model="local_fast")
    assert result.model == "qwen3.5:latest" and ollama.requests[-1].body["model"] == "qwen3.5:latest"


def test_unregistered_fallbacks_are_skipped(router: ChatRouter, ollama: FakeLLMServer) -> None:
    result = router.chat(HI, model="opencode/claude-opus-4-7", fallbacks=["qwen3.5:latest"])
    assert result.provider == "ollama"
    assert result.failed_attempts[0].status == 404


def test_tier_with_no_configured_provider_is_404(tmp_path) -> None:
    r = chat_router_from_settings(_settings(tmp_path))
    try:
        with pytest.raises(ProviderNotRegistered, match="openrouter, opencode"):
            r.chat(HI, tier="frontier_review")
    finally:
        r.close()


def test_zero_choices_is_an_upstream_error(router: ChatRouter, kimi: FakeLLMServer) -> None:
    kimi.then(*[Reply(raw_body='{"id": "x", "choices": []}')] * 3)
    with pytest.raises(UpstreamError, match="no completion"):
        router.chat(HI, model="kimi/kimi-for-coding")


def test_bad_key_is_an_upstream_401(tmp_path, openrouter: FakeLLMServer) -> None:
    r = chat_router_from_settings(_settings(tmp_path, openrouter_url=openrouter.url, openrouter_api_key="wrong"))
    try:
        with pytest.raises(UpstreamError) as info:
            r.chat(HI, model="openrouter/a/b")
        assert info.value.upstream_status == 401 and "invalid or missing API key" in str(info.value)
    finally:
        r.close()


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"model": None}, "model is required"),
        ({"model": "a", "tier": "local_fast"}, "not both"),
        ({"tier": "nope"}, "unknown tier"),
    ],
)
def test_bad_requests(router: ChatRouter, kwargs, problem: str) -> None:
    with pytest.raises(InvalidChatRequest, match=problem):
        router.chat(HI, **kwargs)


def test_bad_messages() -> None:
    with pytest.raises(InvalidChatRequest, match="empty"):
        ChatRequest.of([])
    with pytest.raises(InvalidChatRequest, match="role"):
        ChatRequest.of([{"role": "wizard", "content": "x"}])
    with pytest.raises(InvalidChatRequest, match="a role and a content"):
        ChatRequest.of([{"content": "x"}])
