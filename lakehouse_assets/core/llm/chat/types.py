"""What a chat call takes and gives back, and how it fails.

Every failure is a ChatError carrying the HTTP status the API answers with, so routes never guess:
a bad request 400, a provider that is not configured 404, an upstream that refused or broke 502
(with the upstream's own status), a rate limit 429 (with Retry-After), a deadline 504.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from lakehouse_assets.core.errors import LakehouseError

ROLES = ("system", "user", "assistant", "tool")


def shown_url(url: str) -> str:
    """A provider's URL as it may be shown (listings, error messages): without credentials (user:password@,
    a query string carrying a key) or a fragment."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = host + (f":{parts.port}" if parts.port is not None else "")
    except ValueError:
        return "<unparseable URL>"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@dataclass(frozen=True)
class Message:
    role: str
    content: str

    def to_json(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class ChatRequest:
    """One conversation to complete. `temperature` None means the provider's default: it is then left
    out of the upstream request entirely (some models reject the field)."""

    messages: tuple[Message, ...]
    max_tokens: int | None = None
    temperature: float | None = None
    json_format: bool = False
    timeout: float | None = None

    def __post_init__(self) -> None:
        if not self.messages:
            raise InvalidChatRequest("messages is empty: send at least one message")
        for i, m in enumerate(self.messages):
            if m.role not in ROLES:
                raise InvalidChatRequest(f"messages[{i}].role {m.role!r} is not one of {', '.join(ROLES)}")
            if not isinstance(m.content, str):
                raise InvalidChatRequest(f"messages[{i}].content must be text")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise InvalidChatRequest("max_tokens must be at least 1")
        if self.temperature is not None and not 0 <= self.temperature <= 2:
            raise InvalidChatRequest("temperature must be between 0 and 2")
        if self.timeout is not None and self.timeout <= 0:
            raise InvalidChatRequest("timeout must be positive")

    @classmethod
    def of(cls, messages: Sequence[Mapping[str, Any]], **kwargs: Any) -> ChatRequest:
        parsed = []
        for i, m in enumerate(messages):
            if not isinstance(m, Mapping) or "role" not in m or "content" not in m:
                raise InvalidChatRequest(f"messages[{i}] needs a role and a content")
            parsed.append(Message(str(m["role"]), m["content"]))
        return cls(tuple(parsed), **kwargs)


@dataclass(frozen=True)
class ProviderReply:
    """What one provider call returned."""

    content: str
    upstream_model: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None


@dataclass(frozen=True)
class FailedAttempt:
    """A try that did not answer: which model, which provider, what went wrong."""

    model: str
    provider: str | None
    status: int
    error: str

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "provider": self.provider, "status": self.status, "error": self.error}


@dataclass(frozen=True)
class ChatResult:
    content: str
    provider: str
    model: str
    upstream_model: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    finish_reason: str | None
    failed_attempts: tuple[FailedAttempt, ...] = field(default_factory=tuple)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class ChatError(LakehouseError):
    status = 502
    code = "upstream_error"
    transient = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.failed_attempts: tuple[FailedAttempt, ...] = ()

    def fields(self) -> dict[str, Any]:
        # every try, when there was more than the one this message already describes
        return {"attempts": [f.to_json() for f in self.failed_attempts] if len(self.failed_attempts) > 1 else None}


class InvalidChatRequest(ChatError):
    status = 400
    code = "invalid_request"


class ProviderNotRegistered(ChatError):
    status = 404
    code = "provider_not_registered"

    def __init__(self, message: str, providers: Sequence[str]) -> None:
        super().__init__(message)
        self.providers = tuple(providers)


class UpstreamError(ChatError):
    """The upstream answered with an error (or with something that is not a completion)."""

    def __init__(self, message: str, upstream_status: int | None = None) -> None:
        super().__init__(message)
        self.upstream_status = upstream_status
        self.transient = upstream_status is None or upstream_status >= 500

    def fields(self) -> dict[str, Any]:
        return {**super().fields(), "upstream_status": self.upstream_status}


class UpstreamUnreachable(ChatError):
    code = "upstream_unreachable"
    transient = True


class UpstreamTimeout(ChatError):
    status = 504
    code = "upstream_timeout"
    transient = True


class UpstreamRateLimited(ChatError):
    status = 429
    code = "rate_limited"
    transient = True

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def fields(self) -> dict[str, Any]:
        return {**super().fields(), "retry_after": self.retry_after}

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(max(1, math.ceil(self.retry_after))) if self.retry_after is not None else "1"}


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header (delta-seconds or an HTTP date) as seconds from now; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
