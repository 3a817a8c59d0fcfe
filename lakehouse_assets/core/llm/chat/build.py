"""The chat router a deployment's settings describe: local Ollama, plus every provider whose key is set."""

from __future__ import annotations

import httpx

from lakehouse_assets.core.llm.chat.ollama_provider import OllamaProvider
from lakehouse_assets.core.llm.chat.openai_compat import OpenAICompatProvider
from lakehouse_assets.core.llm.chat.router import ChatRouter, Provider
from lakehouse_assets.core.settings import LakehouseSettings
from lakehouse_assets.core.vectors.embedder import resolve_ollama_host

# provider -> (settings field holding its key, the environment variable a user sets)
KEYED_PROVIDERS = {
    "ollama_cloud": ("ollama_cloud_api_key", "OLLAMA_API_KEY"),
    "openrouter": ("openrouter_api_key", "OPENROUTER_API_KEY"),
    "opencode": ("opencode_api_key", "OPENCODE_API_KEY"),
    "kimi": ("kimi_api_key", "KIMI_API_KEY"),
}


def _key(settings: LakehouseSettings, field: str) -> str | None:
    secret = getattr(settings, field)
    value = secret.get_secret_value().strip() if secret is not None else ""
    return value or None


def chat_router_from_settings(settings: LakehouseSettings) -> ChatRouter:
    http = httpx.Client(timeout=settings.chat_timeout_seconds, follow_redirects=False)
    providers: dict[str, Provider] = {}
    if settings.ollama_chat:
        providers["ollama"] = OllamaProvider("ollama", resolve_ollama_host(settings.ollama_host))
    urls = {
        "ollama_cloud": settings.ollama_cloud_url,
        "openrouter": settings.openrouter_url,
        "opencode": settings.opencode_url,
        "kimi": settings.kimi_url,
    }
    missing: dict[str, str] = {}
    for name, (field, env) in KEYED_PROVIDERS.items():
        key = _key(settings, field)
        if key is None:
            missing[name] = env
        elif name == "ollama_cloud":
            providers[name] = OllamaProvider(name, urls[name], key)
        else:
            providers[name] = OpenAICompatProvider(name, urls[name], key, http)
    return ChatRouter(
        providers,
        tiers=settings.model_tiers,
        missing_keys=missing,
        timeout=settings.chat_timeout_seconds,
        retries=settings.chat_retries,
        backoff=settings.chat_backoff_seconds,
        max_backoff=settings.chat_max_backoff_seconds,
        max_fallbacks=settings.chat_max_fallbacks,
        on_close=http.close,
    )
