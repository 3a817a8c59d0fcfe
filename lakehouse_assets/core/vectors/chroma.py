"""What is said to Chroma itself: opening a client, reading a collection's settings, writing in batches that
replace metadata whole, stamping revisions and paging through a collection. `VectorStore` keeps the state
(cached handles, write locks, the write log) and the checks; these functions hold none."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lakehouse_assets.core.vectors.exceptions import VectorStoreError
from lakehouse_assets.core.vectors.retry import read_retrying
from lakehouse_assets.core.vectors.types import EMPTY_METADATA_KEY, IndexInfo

REVISION_KEY = "revision"  # collection metadata: a new random token after every write
UPSERT_BATCH = 4096  # below Chroma's max batch size; large enough to amortize each call
HNSW_KEYS = ("space", "ef_construction", "ef_search", "max_neighbors")


def local_client(path: Path) -> Any:
    """A persistent client over `path`: only for a folder one process owns."""
    import chromadb

    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chromadb.Settings(anonymized_telemetry=False))


def server_client(url: str) -> Any:
    """A client of the Chroma server at `url` (http://host:port), e.g. one started with `chroma run`."""
    from urllib.parse import urlparse

    import chromadb

    parsed = urlparse(url)
    if not parsed.hostname:
        raise VectorStoreError(f"Chroma URL {url!r} has no host: use http://host:port")
    try:
        return chromadb.HttpClient(
            host=parsed.hostname,
            port=parsed.port or (443 if parsed.scheme == "https" else 8000),
            ssl=parsed.scheme == "https",
            settings=chromadb.Settings(anonymized_telemetry=False),
        )
    except Exception as e:  # chromadb checks the server on construction
        raise VectorStoreError(f"Chroma server at {url} is unreachable: {e}") from None


def index_info(collection: Any) -> IndexInfo:
    meta = collection.metadata or {}
    hnsw = dict((collection.configuration or {}).get("hnsw") or {})
    return IndexInfo(
        name=collection.name,
        model=str(meta.get("model", "")),
        dimension=int(meta.get("dimension", 0)),
        count=collection.count(),
        hnsw={k: hnsw[k] for k in HNSW_KEYS if k in hnsw},
    )


def stamp_revision(collection: Any) -> str:
    """Give the collection a new revision token and return it. Chroma's modify replaces the whole metadata,
    so model, dimension and the marker are written back with it."""
    token = uuid.uuid4().hex
    collection.modify(metadata={**(collection.metadata or {}), REVISION_KEY: token})
    return token


def upsert_batches(
    collection: Any,
    ids: Sequence[str],
    embeddings: np.ndarray,
    documents: Sequence[str] | None,
    metadatas: Sequence[Mapping[str, Any]] | None,
    batch_size: int = UPSERT_BATCH,
    new_ids: bool = False,
) -> None:
    """Upsert in batches; a replaced record's metadata is replaced, not merged (unless `new_ids`: none of
    `ids` is in the collection, so there is nothing old to read)."""
    for start in range(0, len(ids), batch_size):
        end = start + batch_size
        batch_ids = list(ids[start:end])
        batch_metadatas = None
        if metadatas is not None:
            batch_metadatas = [dict(m) or {EMPTY_METADATA_KEY: 0} for m in metadatas[start:end]]
        if metadatas is not None and not new_ids:
            # Chroma's upsert merges into an existing record's metadata; replace it instead, so a
            # key the new metadata lacks (a null) does not keep its old value (None deletes a key).
            old = collection.get(ids=batch_ids, include=["metadatas"])
            old_keys = {id_: set(meta or ()) for id_, meta in zip(old["ids"], old["metadatas"], strict=True)}
            for id_, meta in zip(batch_ids, batch_metadatas, strict=True):
                meta.update(dict.fromkeys(old_keys.get(id_, set()) - meta.keys()))
        collection.upsert(
            ids=batch_ids,
            embeddings=embeddings[start:end],
            documents=list(documents[start:end]) if documents is not None else None,
            metadatas=batch_metadatas,
        )


def metadata_of(name: str, collection: Any, field_name: str, ids: Sequence[str]) -> dict[str, Any]:
    """id -> metadata[field_name] for those of `ids` the collection holds."""
    out: dict[str, Any] = {}
    for start in range(0, len(ids), UPSERT_BATCH):
        page = list(ids[start : start + UPSERT_BATCH])
        got = read_retrying(name, lambda page=page: collection.get(ids=page, include=["metadatas"]))
        for id_, meta in zip(got["ids"], got["metadatas"], strict=True):
            out[id_] = (meta or {}).get(field_name)
    return out


def pages(collection: Any, include: list[str], page: int = 10_000) -> Iterator[dict[str, Any]]:
    """The whole collection, `page` records at a time (Chroma's offset paging)."""
    offset = 0
    while True:
        got = collection.get(include=include, limit=page, offset=offset)
        yield got
        if len(got["ids"]) < page:
            return
        offset += page
