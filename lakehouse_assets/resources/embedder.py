"""The embedder as a Dagster resource: a typed configuration over `core.embedder.open_embedder`.

`get()` hands out one `CachedEmbedder` per process per configuration, so every step that runs in
the same process (the in-process executor, or several assets of one run) shares the loaded model
and the LRU cache instead of loading the model again.
"""

from __future__ import annotations

import os
import threading
from typing import Literal

import dagster as dg
from pydantic import Field

from lakehouse_assets.core.embedder import LOCAL_MODEL, CachedEmbedder, open_embedder
from lakehouse_assets.core.settings import LakehouseSettings

ConfigKey = tuple[str, str | None, str | None, int, int]

_embedders: dict[ConfigKey, CachedEmbedder] = {}
_embedders_lock = threading.Lock()


class EmbedderResource(dg.ConfigurableResource):
    """Text embeddings: all-MiniLM-L6-v2 on CPU (`local`) or an Ollama model (`ollama`), LRU-cached."""

    backend: Literal["local", "ollama"] = Field(
        default="local", description="'local' (all-MiniLM-L6-v2 on CPU) or 'ollama'."
    )
    model: str | None = Field(default=None, description="Ollama model; default nomic-embed-text.")
    ollama_host: str | None = Field(default=None, description="Defaults to OLLAMA_HOST, then localhost:11434.")
    batch_size: int = Field(default=64, description="Texts per model call (or per Ollama request).")
    cache_size: int = Field(default=50_000, description="Vectors kept in the LRU cache.")

    @classmethod
    def from_settings(cls, settings: LakehouseSettings) -> EmbedderResource:
        """Built from the shared settings."""
        return cls(
            backend=settings.embedder_backend,  # type: ignore[arg-type]  # validated by pydantic
            model=settings.embedder_model,
            ollama_host=settings.ollama_host,
            batch_size=settings.embed_batch_size,
            cache_size=settings.embed_cache_size,
        )

    def config_key(self) -> ConfigKey:
        """What decides which embedder `get()` returns; the host is resolved the way the client resolves it."""
        if self.backend == "local":
            return ("local", self.model or LOCAL_MODEL, None, self.batch_size, self.cache_size)
        host = self.ollama_host or os.environ.get("OLLAMA_HOST") or None
        return (self.backend, self.model or None, host, self.batch_size, self.cache_size)

    def get(self) -> CachedEmbedder:
        """The process-wide embedder for this configuration (created on first use)."""
        key = self.config_key()
        with _embedders_lock:
            embedder = _embedders.get(key)
            if embedder is None:
                embedder = open_embedder(
                    self.backend,
                    model=self.model,
                    host=self.ollama_host,
                    batch_size=self.batch_size,
                    cache_size=self.cache_size,
                )
                _embedders[key] = embedder
            return embedder
