"""The vector store as a Dagster resource: a typed configuration over `core.vectors.VectorStore`.

With `chroma_url` set, the store is a Chroma server (`chroma run`) reached through HttpClient, the
only safe choice when several processes write (Dagster runs, the API). Without it, a persistent
Chroma folder at `path`, for a single process that owns that folder.

`get()` hands out one `VectorStore` per process per configuration, and one Chroma client per
process per folder or URL: Chroma's PersistentClient must not be opened twice for the same folder
in one process, so configurations that differ only in HNSW defaults share the client.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from lakehouse_assets.core.settings import LakehouseSettings
from lakehouse_assets.core.vectors.store import VectorStore

ClientKey = tuple[str, str]  # ("server", url) or ("local", resolved folder)
StoreKey = tuple[ClientKey, int, int, int]  # + ef_construction, ef_search, max_neighbors

_clients: dict[ClientKey, Any] = {}
_stores: dict[StoreKey, VectorStore] = {}
_owner_pid = os.getpid()
_lock = threading.Lock()


def _forget_if_forked() -> None:
    """A forked child must open its own clients, never reuse its parent's (call with the lock held)."""
    global _owner_pid
    if _owner_pid != os.getpid():
        _clients.clear()
        _stores.clear()
        _owner_pid = os.getpid()


class VectorStoreResource(dg.ConfigurableResource):
    """Vector indexes in Chroma: a server when `chroma_url` is set, else a persistent local folder."""

    chroma_url: str | None = Field(
        default=None, description="A Chroma server (http://host:port); required when several processes write."
    )
    path: str = Field(default=".lakehouse/chroma", description="Local Chroma folder, used when no chroma_url is set.")
    hnsw_ef_construction: int = Field(default=200, description="HNSW ef_construction for new indexes.")
    hnsw_ef_search: int = Field(default=100, description="HNSW ef_search for new indexes.")
    hnsw_max_neighbors: int = Field(default=32, description="HNSW max_neighbors (M) for new indexes.")

    @classmethod
    def from_settings(cls, settings: LakehouseSettings) -> VectorStoreResource:
        """Built from the shared settings (LAKEHOUSE_CHROMA_URL, LAKEHOUSE_HOME, LAKEHOUSE_HNSW_*)."""
        return cls(
            chroma_url=settings.chroma_url or None,
            path=str(settings.chroma_path),
            hnsw_ef_construction=settings.hnsw_ef_construction,
            hnsw_ef_search=settings.hnsw_ef_search,
            hnsw_max_neighbors=settings.hnsw_max_neighbors,
        )

    def hnsw(self) -> dict[str, int]:
        """The HNSW settings new indexes are created with (unless an IndexSpec overrides them)."""
        return {
            "ef_construction": self.hnsw_ef_construction,
            "ef_search": self.hnsw_ef_search,
            "max_neighbors": self.hnsw_max_neighbors,
        }

    def client_key(self) -> ClientKey:
        """Which Chroma client this configuration uses: the server URL, or the resolved local folder."""
        if self.chroma_url:
            return ("server", self.chroma_url.rstrip("/"))
        return ("local", str(Path(self.path).expanduser().resolve()))

    def config_key(self) -> StoreKey:
        """What decides which `VectorStore` `get()` returns."""
        return (self.client_key(), self.hnsw_ef_construction, self.hnsw_ef_search, self.hnsw_max_neighbors)

    def get(self) -> VectorStore:
        """The process-wide store for this configuration (its client is opened on first use)."""
        key = self.config_key()
        with _lock:
            _forget_if_forked()
            store = _stores.get(key)
            if store is not None:
                return store
            client_key = key[0]
            client = _clients.get(client_key)
            if client is None:
                kind, where = client_key
                opened = VectorStore.server(where) if kind == "server" else VectorStore.local(Path(where))
                client = _clients[client_key] = opened.client
            store = _stores[key] = VectorStore(client, default_hnsw=self.hnsw())
            return store
