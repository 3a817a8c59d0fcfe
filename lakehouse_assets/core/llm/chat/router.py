"""Routes a chat call to a provider by model name, with retries and an ordered fallback list.

Model names (DESIGN.md, chat):
    qwen3.5:latest, ollama/<m>         local Ollama ("ollama/" stripped)
    ollama_cloud/<m>, <m>:cloud        Ollama Cloud ("ollama_cloud/" and ":cloud" stripped)
    openrouter/<vendor>/<m>            OpenRouter ("openrouter/" stripped)
    opencode/<m>, kimi/<m>             OpenCode, Kimi ("opencode/", "kimi/" stripped)
    anything-else/<m>                  local Ollama, unchanged (no silent rewrite)

A tier name (local_fast, local_judge, cloud_judge, frontier_review, weak_models) stands for its
configured list of models, tried in order. A transient failure (unreachable, timeout, 429, 5xx) is
retried on the same model with exponential backoff (honouring Retry-After) before moving to the
next model; any other upstream error moves on at once. The whole call, retries included, runs
against one deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from lakehouse_assets.core.llm.chat.types import (
    ChatError,
    ChatRequest,
    ChatResult,
    FailedAttempt,
    InvalidChatRequest,
    ProviderNotRegistered,
    ProviderReply,
    UpstreamTimeout,
    shown_url,
)

PREFIXES = ("ollama", "ollama_cloud", "openrouter", "opencode", "kimi")
DEFAULT_PROVIDER = "ollama"


class Provider(Protocol):
    name: str
    protocol: str
    base_url: str

    def chat(self, model: str, request: ChatRequest, timeout: float) -> ProviderReply: ...

    def probe(self, timeout: float = 5.0) -> tuple[bool, str]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Route:
    provider: str
    upstream_model: str


def route(model: str) -> Route:
    """Which provider a model name goes to, and the name the upstream is sent."""
    name = model.strip() if isinstance(model, str) else ""
    if not name:
        raise InvalidChatRequest("model is required")
    prefix, sep, rest = name.partition("/")
    if sep and prefix in PREFIXES:
        if not rest:
            raise InvalidChatRequest(f"model {name!r} names the {prefix} provider but no model")
        if prefix == "openrouter" and "/" not in rest:
            raise InvalidChatRequest(f"model {name!r}: OpenRouter models are named openrouter/<vendor>/<model>")
        return Route(prefix, rest)
    if name.endswith(":cloud") and len(name) > len(":cloud"):
        return Route("ollama_cloud", name.removesuffix(":cloud"))
    return Route(DEFAULT_PROVIDER, name)


@dataclass(frozen=True)
class ProviderInfo:
    name: str
    protocol: str
    base_url: str


class ChatRouter:
    def __init__(
        self,
        providers: Mapping[str, Provider],
        *,
        tiers: Mapping[str, Sequence[str]] | None = None,
        missing_keys: Mapping[str, str] | None = None,
        timeout: float = 120.0,
        retries: int = 2,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        max_fallbacks: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self._providers = dict(providers)
        self.tiers = {k: list(v) for k, v in (tiers or {}).items()}
        self.missing_keys = dict(missing_keys or {})
        self.timeout, self.retries, self.backoff, self.max_backoff = timeout, retries, backoff, max_backoff
        self.max_fallbacks = max_fallbacks
        self._sleep = sleep
        self._on_close = on_close

    def providers(self) -> list[ProviderInfo]:
        return [ProviderInfo(p.name, p.protocol, shown_url(p.base_url)) for p in self._providers.values()]

    def probe(self) -> dict[str, tuple[bool, str]]:
        """Each registered provider: reachable (and, where it says so, accepting our key)?"""
        return {name: p.probe() for name, p in self._providers.items()}

    def resolve(self, model: str) -> tuple[Provider, str]:
        r = route(model)
        provider = self._providers.get(r.provider)
        if provider is None:
            needs = self.missing_keys.get(r.provider)
            hint = f": set {needs}" if needs else ""
            raise ProviderNotRegistered(
                f"provider {r.provider!r} (for model {model!r}) is not configured{hint}", [r.provider]
            )
        return provider, r.upstream_model

    def candidates(self, model: str | None = None, tier: str | None = None, fallbacks: Sequence[str] = ()) -> list[str]:
        """The models to try, in order: a tier's list, or the model then the caller's fallbacks."""
        if len(fallbacks) > self.max_fallbacks:
            raise InvalidChatRequest(
                f"{len(fallbacks)} fallbacks; at most {self.max_fallbacks} (LAKEHOUSE_CHAT_MAX_FALLBACKS)"
            )
        if tier is not None and model is not None:
            raise InvalidChatRequest("name a model or a tier, not both")
        if tier is None and model is not None and model.strip() in self.tiers:
            tier = model.strip()
        if tier is not None:
            if tier not in self.tiers:
                raise InvalidChatRequest(f"unknown tier {tier!r}; tiers: {', '.join(self.tiers)}")
            names = [*self.tiers[tier], *fallbacks]
            if not names:
                raise InvalidChatRequest(f"tier {tier!r} has no models configured")
        elif model is None or not model.strip():
            raise InvalidChatRequest("model is required (a model name or a tier)")
        else:
            names = [model.strip(), *fallbacks]
        for n in names:
            route(n)  # every name must at least parse, before anything is sent
        return list(dict.fromkeys(names))

    def _delay(self, retry: int, error: ChatError) -> float:
        delay = min(self.backoff * (2**retry), self.max_backoff)
        retry_after = getattr(error, "retry_after", None)
        return max(delay, retry_after) if retry_after is not None else delay

    def chat(
        self,
        request: ChatRequest,
        *,
        model: str | None = None,
        tier: str | None = None,
        fallbacks: Sequence[str] = (),
    ) -> ChatResult:
        names = self.candidates(model, tier, fallbacks)
        started = time.perf_counter()
        deadline = time.monotonic() + (request.timeout or self.timeout)
        failures: list[FailedAttempt] = []
        last: ChatError | None = None
        for name in names:
            try:
                provider, upstream = self.resolve(name)
            except ProviderNotRegistered as e:
                failures.append(FailedAttempt(name, e.providers[0], e.status, str(e)))
                last = e
                continue
            for retry in range(self.retries + 1):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._fail(
                        UpstreamTimeout(f"no answer within the {request.timeout or self.timeout:g}s deadline"), failures
                    )
                try:
                    reply = provider.chat(upstream, request, remaining)
                except ChatError as e:
                    failures.append(FailedAttempt(name, provider.name, e.status, str(e)))
                    last = e
                    if not e.transient or retry == self.retries:
                        break
                    delay = self._delay(retry, e)
                    if delay > self.max_backoff or time.monotonic() + delay >= deadline:
                        break
                    self._sleep(delay)
                    continue
                return ChatResult(
                    content=reply.content,
                    provider=provider.name,
                    model=name,
                    upstream_model=reply.upstream_model,
                    prompt_tokens=reply.prompt_tokens,
                    completion_tokens=reply.completion_tokens,
                    latency_ms=round((time.perf_counter() - started) * 1000, 2),
                    finish_reason=reply.finish_reason,
                    failed_attempts=tuple(failures),
                )
        assert last is not None
        if all(f.status == ProviderNotRegistered.status for f in failures) and len(names) > 1:
            providers = list(dict.fromkeys(f.provider or "" for f in failures))
            last = ProviderNotRegistered(
                f"none of {', '.join(names)} has a configured provider ({', '.join(providers)})", providers
            )
        raise self._fail(last, failures)

    @staticmethod
    def _fail(error: ChatError, failures: list[FailedAttempt]) -> ChatError:
        error.failed_attempts = tuple(failures)
        return error

    def close(self) -> None:
        for p in self._providers.values():
            p.close()
        if self._on_close is not None:
            self._on_close()
