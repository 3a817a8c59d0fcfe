"""`ollama`: an Ollama embedding model through the official client (POST /api/embed) against
OLLAMA_HOST (default model nomic-embed-text, 768-d)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from lakehouse_assets.core.vectors.embedder.base import Embedder, EmbeddingError, check_texts, unit_rows

DEFAULT_OLLAMA_MODEL = "nomic-embed-text"
DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"


def resolve_ollama_host(configured: str | None) -> str:
    """The configured host, else OLLAMA_HOST (as the official client reads it), else the local default."""
    return configured or os.environ.get("OLLAMA_HOST") or DEFAULT_OLLAMA_HOST


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
