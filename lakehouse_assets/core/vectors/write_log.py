"""The writes a VectorStore made, per index: what an in-memory copy of an index applies to follow it without
reading it again (core/vectors/mirror.py)."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

WRITE_LOG = 256  # writes per index this store remembers, for readers that keep a copy in memory
WRITE_LOG_MAX_IDS = 256  # a larger write (a bulk sync's batch) is logged without its vectors: copies re-read


@dataclass(frozen=True)
class WriteEntry:
    """One write through a VectorStore: what an in-memory copy of the index applies to follow it."""

    op: str  # "upsert" | "delete" | "unknown" (a failed write: read the index again)
    ids: list[str]
    embeddings: np.ndarray | None = None
    metadatas: list[Mapping[str, Any]] | None = None
    documents: Sequence[str] | None = None


class WriteLog:
    """This store's last WRITE_LOG writes per index, numbered from 1."""

    def __init__(self) -> None:
        self.writes: dict[str, int] = {}  # index -> writes through this store (readers of a copy compare it)
        self._log: dict[str, list[tuple[int, WriteEntry, str]]] = {}
        self._lock = threading.Lock()

    def record(self, name: str, entry: WriteEntry, revision: str) -> None:
        if len(entry.ids) > WRITE_LOG_MAX_IDS:
            entry = WriteEntry("unknown", [])  # a bulk writer holds no copy of what it wrote
        with self._lock:
            log = self._log.setdefault(name, [])
            self.writes[name] = self.writes.get(name, 0) + 1
            log.append((self.writes[name], entry, revision))
            del log[:-WRITE_LOG]

    def since(self, name: str, seq: int) -> list[tuple[int, WriteEntry, str]] | None:
        """(sequence, entry, revision stamped after it) of the writes to `name` after `seq`, or None when the
        log no longer reaches back that far (a reader then reads the index again)."""
        with self._lock:
            log = list(self._log.get(name, ()))
            current = self.writes.get(name, 0)
        if current == seq:
            return []
        later = [e for e in log if e[0] > seq]
        if not later or later[0][0] != seq + 1:
            return None
        return later
