"""The embedder as a Dagster resource: a typed configuration over `core.embedder.open_embedder`.

`get()` hands out one `CachedEmbedder` per process per configuration, so every step that runs in
the same process (the in-process executor, or several assets of one run) shares the loaded model
and the LRU cache instead of loading the model again.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Literal

import dagster as dg
from pydantic import Field

from lakehouse_assets.core.settings import LakehouseSettings
from lakehouse_assets.core.vectors.embedder import (
    DEFAULT_BACKEND,
    INSTANT_BACKEND,
    LOCAL_MODEL,
    CachedEmbedder,
    default_models_dir,
    models_dir_for,
    open_embedder,
)

ConfigKey = tuple[str, str | None, str | None, int, int, str | None, int | None]

_embedders: dict[ConfigKey, CachedEmbedder] = {}
_embedders_lock = threading.Lock()


class EmbedderResource(dg.ConfigurableResource):
    """Text embeddings: all-MiniLM-L6-v2 as int8 ONNX (`onnx`, the default), in torch fp32 (`local`),
    distilled to a static model (`static`, the instant tier), or an Ollama model (`ollama`); LRU-cached."""

    backend: Literal["local", "onnx", "static", "ollama"] = Field(
        default=DEFAULT_BACKEND,
        description="'onnx' (all-MiniLM-L6-v2, int8 ONNX Runtime), 'local' (torch fp32), 'static' (model2vec) "
        "or 'ollama'.",
    )
    model: str | None = Field(default=None, description="Ollama model; default nomic-embed-text.")
    ollama_host: str | None = Field(default=None, description="Defaults to OLLAMA_HOST, then localhost:11434.")
    batch_size: int = Field(default=64, description="Texts per model call (or per Ollama request).")
    cache_size: int = Field(default=50_000, description="Vectors kept in the LRU cache.")
    models_dir: str | None = Field(
        default=None, description="Where the onnx and static backends build and cache their models; unset: home/models."
    )
    threads: int | None = Field(default=None, description="ONNX Runtime threads; unset: the CPUs this process may use.")
    parts: int = Field(
        default=1,
        ge=1,
        description="Parts one corpus's embedding is split into (steps an executor may run side by side).",
    )

    @classmethod
    def from_settings(cls, settings: LakehouseSettings) -> EmbedderResource:
        """Built from the shared settings."""
        return cls(
            backend=settings.embedder_backend,  # type: ignore[arg-type]  # validated by pydantic
            model=settings.embedder_model,
            ollama_host=settings.ollama_host,
            batch_size=settings.embed_batch_size,
            cache_size=settings.embed_cache_size,
            models_dir=str(models_dir_for(settings)),
            threads=settings.embed_threads,
            parts=settings.embed_parts,
        )

    @classmethod
    def instant_from_settings(cls, settings: LakehouseSettings) -> EmbedderResource:
        """The instant tier (the static model) for the shared settings, whatever `embedder_backend` says."""
        return cls(
            backend=INSTANT_BACKEND,
            batch_size=settings.embed_batch_size,
            cache_size=settings.embed_cache_size,
            models_dir=str(models_dir_for(settings)),
        )

    def _models_dir(self) -> str | None:
        if self.backend not in ("onnx", "static"):
            return None
        return str(Path(self.models_dir or default_models_dir()).resolve())

    def config_key(self) -> ConfigKey:
        """What decides which embedder `get()` returns; the host is resolved the way the client resolves it."""
        if self.backend == "local":
            return ("local", self.model or LOCAL_MODEL, None, self.batch_size, self.cache_size, None, None)
        if self.backend in ("onnx", "static"):
            threads = self.threads if self.backend == "onnx" else None
            return (self.backend, None, None, self.batch_size, self.cache_size, self._models_dir(), threads)
        host = self.ollama_host or os.environ.get("OLLAMA_HOST") or None
        return (self.backend, self.model or None, host, self.batch_size, self.cache_size, None, None)

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
                    models_dir=key[5],
                    threads=self.threads,
                )
                _embedders[key] = embedder
            return embedder
