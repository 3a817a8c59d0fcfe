"""An LRU cache in front of any embedder: identical texts in one call are embedded once, and a text
seen before (same model) is served from memory."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lakehouse_assets.core.vectors.embedder.base import Embedder, check_texts


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
