"""Chat: one call, routed by model name to local Ollama, Ollama Cloud or an OpenAI-compatible API."""

from lakehouse_assets.core.llm.chat.build import chat_router_from_settings
from lakehouse_assets.core.llm.chat.router import ChatRouter, ProviderInfo, Route, route
from lakehouse_assets.core.llm.chat.types import (
    ChatError,
    ChatRequest,
    ChatResult,
    FailedAttempt,
    InvalidChatRequest,
    Message,
    ProviderNotRegistered,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnreachable,
)

__all__ = [
    "ChatError",
    "ChatRequest",
    "ChatResult",
    "ChatRouter",
    "FailedAttempt",
    "InvalidChatRequest",
    "Message",
    "ProviderInfo",
    "ProviderNotRegistered",
    "Route",
    "UpstreamError",
    "UpstreamRateLimited",
    "UpstreamTimeout",
    "UpstreamUnreachable",
    "chat_router_from_settings",
    "route",
]
