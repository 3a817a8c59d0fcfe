"""The chat router as a Dagster resource, for jobs that call models (the replay job).

Provider keys stay environment variables (OLLAMA_API_KEY, OPENROUTER_API_KEY, OPENCODE_API_KEY,
KIMI_API_KEY, or in `.env`), read by the shared settings when the router is built; the resource only
carries what is safe to show in the UI.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from pydantic import Field

from lakehouse_assets.core.llm.chat import ChatRouter, chat_router_from_settings
from lakehouse_assets.core.settings import LakehouseSettings


class ChatResource(dg.ConfigurableResource):
    """Chat models by name or tier: local Ollama plus every provider whose key is set."""

    ollama_host: str | None = Field(default=None, description="Local Ollama; defaults to OLLAMA_HOST.")
    timeout_seconds: float = Field(default=120.0, description="Deadline of one chat call, retries included.")
    retries: int = Field(default=2, description="Retries of a transient failure before the next fallback.")

    @classmethod
    def from_settings(cls, settings: LakehouseSettings) -> ChatResource:
        return cls(
            ollama_host=settings.ollama_host,
            timeout_seconds=settings.chat_timeout_seconds,
            retries=settings.chat_retries,
        )

    @contextmanager
    def router(self) -> Iterator[ChatRouter]:
        settings = LakehouseSettings(
            ollama_host=self.ollama_host, chat_timeout_seconds=self.timeout_seconds, chat_retries=self.retries
        )
        router = chat_router_from_settings(settings)
        try:
            yield router
        finally:
            router.close()
