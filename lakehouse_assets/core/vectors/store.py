"""Vector indexes over Chroma: named collections that remember their embedding model and dimension.

A Chroma server (`chroma run`) is the store whenever more than one process writes (the API, Dagster
runs); an in-process persistent client only where one process owns the folder. Every index is a
cosine-space collection whose metadata records `model` and `dimension`: adding or querying with
another model or dimension is an IndexConflict, never a silent mix of vector spaces. Creating an
index is idempotent for the same settings and a conflict for different ones. Every write through this
class stamps a new `revision` on the collection, so a reader holding its vectors in memory (the search
frames) can tell an in-place update from no change: Chroma itself keeps no version a client can read.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lakehouse_assets.core.vectors.chroma import (
    REVISION_KEY,
    UPSERT_BATCH,
    index_info,
    local_client,
    metadata_of,
    pages,
    server_client,
    stamp_revision,
    upsert_batches,
)
from lakehouse_assets.core.vectors.exceptions import IndexConflict, IndexNotFound, InvalidIndexRequest
from lakehouse_assets.core.vectors.retry import read_retrying
from lakehouse_assets.core.vectors.types import (
    DEFAULT_HNSW,
    EMPTY_METADATA_KEY,
    IndexInfo,
    IndexSpec,
    IndexVersion,
    VectorHit,
    spec_differences,
    user_metadata,
    validate_index_name,
    validate_spec,
    validate_upsert,
)
from lakehouse_assets.core.vectors.write_log import WriteEntry, WriteLog

HOT_SECONDS = 5.0  # how long a collection handle is reused on the query path
METADATA_SAMPLE = 1000  # vectors read to learn an index's metadata fields


class VectorStore:
    """Indexes in one Chroma (a server through HttpClient, or a local persistent folder)."""

    def __init__(self, client: Any, *, default_hnsw: Mapping[str, int] | None = None) -> None:
        self.client = client
        self.default_hnsw = dict(default_hnsw or DEFAULT_HNSW)
        self._fields: dict[str, frozenset[str]] = {}
        self._fields_lock = threading.Lock()
        self._hot: dict[str, tuple[float, Any]] = {}
        self._hot_lock = threading.Lock()
        self._ensured: dict[str, tuple[float, IndexSpec]] = {}  # index -> when this store last ensured it, as what
        self._write_locks: dict[str, threading.Lock] = {}
        self._writes = WriteLog()
        self.writes = self._writes.writes  # index -> writes through this store (readers of a copy compare it)

    @classmethod
    def local(cls, path: Path, **kw: Any) -> VectorStore:
        return cls(local_client(path), **kw)

    @classmethod
    def server(cls, url: str, **kw: Any) -> VectorStore:
        """A Chroma server at `url` (http://host:port), e.g. one started with `chroma run`."""
        return cls(server_client(url), **kw)

    # -- indexes ---------------------------------------------------------------------------

    def _collection(self, name: str) -> Any:
        from chromadb.errors import NotFoundError

        validate_index_name(name)
        try:
            return self.client.get_collection(name, embedding_function=None)
        except NotFoundError:
            raise IndexNotFound(name) from None
        except ValueError as e:  # older clients say "does not exist" with a ValueError
            if "does not exist" in str(e):
                raise IndexNotFound(name) from None
            raise

    def create_index(self, spec: IndexSpec) -> tuple[IndexInfo, bool]:
        """(info, created). Same settings again: the existing index; other settings: IndexConflict."""
        hnsw = validate_spec(spec, self.default_hnsw)
        try:
            existing = self._collection(spec.name)
        except IndexNotFound:
            existing = None
        if existing is None:
            try:
                collection = self.client.create_collection(
                    spec.name,
                    metadata={"model": spec.model, "dimension": spec.dimension, "lakehouse_index": 1},
                    configuration={"hnsw": {"space": "cosine", **hnsw}},
                    embedding_function=None,
                )
                return index_info(collection), True
            except Exception as e:
                if "already exists" not in str(e):  # another process created it just now
                    raise
                existing = self._collection(spec.name)
        info = index_info(existing)
        differences = spec_differences(info, spec, hnsw)
        if differences:
            raise IndexConflict(f"index {spec.name!r} exists with other settings: {', '.join(differences)}")
        return info, False

    def ensure_index(self, spec: IndexSpec) -> IndexInfo:
        info = self.create_index(spec)[0]
        with self._hot_lock:
            self._ensured[spec.name] = (time.monotonic(), spec)
        return info

    def ensured(self, spec: IndexSpec) -> bool:
        """Whether this store ensured `spec` within HOT_SECONDS (and has not dropped it since): a writer of a
        few vectors a request need not check the index's settings again (two round trips to a server).
        Writes still check the model and dimension they bring, and forget this when the index is gone."""
        with self._hot_lock:
            entry = self._ensured.get(spec.name)
        return entry is not None and entry[1] == spec and time.monotonic() - entry[0] < HOT_SECONDS

    def _forget(self, name: str) -> None:
        with self._hot_lock:
            self._hot.pop(name, None)
            self._ensured.pop(name, None)

    def get_index(self, name: str) -> IndexInfo:
        return index_info(self._collection(name))

    def list_indexes(self) -> list[IndexInfo]:
        out = []
        for c in self.client.list_collections():
            collection = c if hasattr(c, "metadata") else self.client.get_collection(c, embedding_function=None)
            out.append(index_info(collection))
        return sorted(out, key=lambda i: i.name)

    def delete_index(self, name: str) -> None:
        self._collection(name)
        self._forget(name)
        try:
            self.client.delete_collection(name)
        finally:
            self._forget_fields(name)

    def metadata_fields(self, name: str, *, refresh: bool = False) -> frozenset[str]:
        """The metadata keys found on a sample of the index's vectors (the first METADATA_SAMPLE).

        Cached per index; this store's upserts and deletes drop the entry. Pass `refresh=True` to re-read
        when another process may have written new fields (e.g. before rejecting a filter field).
        """
        with self._fields_lock:
            cached = None if refresh else self._fields.get(name)
        if cached is not None:
            return cached
        got = self._collection(name).get(include=["metadatas"], limit=METADATA_SAMPLE)
        fields = frozenset(k for meta in got["metadatas"] for k in (meta or ()) if k != EMPTY_METADATA_KEY)
        with self._fields_lock:
            self._fields[name] = fields
        return fields

    def _forget_fields(self, name: str) -> None:
        with self._fields_lock:
            self._fields.pop(name, None)

    # -- vectors ---------------------------------------------------------------------------

    def _hot_collection(self, name: str, *, fresh: bool = False) -> Any:
        """The collection handle for reads and writes, reused for HOT_SECONDS: against a Chroma server
        each lookup is an HTTP round trip, which would double the cost of a query. A handle whose
        collection was dropped meanwhile fails with NotFoundError; callers then retry with `fresh`."""
        now = time.monotonic()
        with self._hot_lock:
            entry = self._hot.get(name)
        if entry is not None and not fresh and now - entry[0] < HOT_SECONDS:
            return entry[1]
        collection = self._collection(name)
        with self._hot_lock:
            self._hot[name] = (now, collection)
        return collection

    def _on_collection(self, name: str, model: str, dimension: int, action: Any) -> Any:
        """Run `action(collection)` on the checked, reused handle; once more on a fresh one if it went stale."""
        from chromadb.errors import NotFoundError

        try:
            return action(self._checked(name, model, dimension))
        except NotFoundError:
            self._forget(name)
            return action(self._checked(name, model, dimension, fresh=True))

    def _checked(self, name: str, model: str, dimension: int, *, fresh: bool = False) -> Any:
        collection = self._hot_collection(name, fresh=fresh)
        info_meta = collection.metadata or {}
        have_model, have_dim = str(info_meta.get("model", "")), int(info_meta.get("dimension", 0))
        if model != have_model:
            raise IndexConflict(f"index {name!r} holds {have_model!r} vectors; these come from {model!r}")
        if dimension != have_dim:
            raise IndexConflict(f"index {name!r} holds {have_dim}-d vectors; got {dimension}-d")
        return collection

    def upsert(
        self,
        name: str,
        *,
        model: str,
        ids: Sequence[str],
        embeddings: np.ndarray,
        documents: Sequence[str] | None = None,
        metadatas: Sequence[Mapping[str, Any]] | None = None,
        batch_size: int = UPSERT_BATCH,
        new_ids: bool = False,
    ) -> int:
        """Add or replace the vectors of `ids` (a replaced vector's metadata is replaced whole, not merged).
        `new_ids`: the caller has just seen that the index holds none of `ids`, so there is no old metadata
        to read and replace (one round trip less per batch)."""
        embeddings = validate_upsert(ids, embeddings, documents, metadatas)
        if not len(ids):
            return 0
        entry = WriteEntry("upsert", list(ids), embeddings, list(metadatas or [{}] * len(ids)), documents)

        def write(collection: Any) -> None:
            with self._writing(name, collection, entry):
                upsert_batches(collection, ids, embeddings, documents, metadatas, batch_size, new_ids)

        with self._write_lock(name):
            self._on_collection(name, model, int(embeddings.shape[1]), write)
        return len(ids)

    def _write_lock(self, name: str) -> threading.Lock:
        """One write at a time into an index from this store: concurrent upserts into one Chroma collection
        contend (four at once cost the server 11x the CPU per vector of one after another)."""
        with self._hot_lock:
            return self._write_locks.setdefault(name, threading.Lock())

    @contextlib.contextmanager
    def _writing(self, name: str, collection: Any, entry: WriteEntry) -> Iterator[None]:
        """Around a write: forget the cached metadata fields, stamp a new revision once it is over (also
        after a failed write, which may have stored part of its batches), and log what was written."""
        try:
            yield
        except BaseException:
            self._forget_fields(name)
            with contextlib.suppress(Exception):
                stamp_revision(collection)
            self._writes.record(name, WriteEntry("unknown", []), "")
            raise
        self._forget_fields(name)
        self._writes.record(name, entry, stamp_revision(collection))

    def writes_since(self, name: str, seq: int) -> list[tuple[int, WriteEntry, str]] | None:
        """This store's writes to `name` after `seq` (see WriteLog.since)."""
        return self._writes.since(name, seq)

    def version(self, name: str) -> IndexVersion:
        """Size, revision and generation of an index: they change whenever its contents do."""
        collection = self._collection(name)
        count = read_retrying(name, collection.count)
        meta = collection.metadata or {}
        return IndexVersion(count, str(meta.get(REVISION_KEY, "")), str(collection.id), str(meta.get("model", "")))

    def delete(self, name: str, ids: Sequence[str]) -> None:
        if ids:
            collection = self._collection(name)
            with self._write_lock(name), self._writing(name, collection, WriteEntry("delete", list(ids))):
                for start in range(0, len(ids), UPSERT_BATCH):
                    collection.delete(ids=list(ids[start : start + UPSERT_BATCH]))

    def get_metadata(self, name: str, field_name: str, ids: Sequence[str] | None = None) -> dict[str, Any]:
        """id -> metadata[field_name] for every vector in the index (for incremental updates), or only for
        those of `ids` it holds (a few new records need not read an index that grows with every one)."""
        from chromadb.errors import NotFoundError

        if ids is not None:
            try:
                return metadata_of(name, self._hot_collection(name), field_name, ids)
            except NotFoundError:  # the handle outlived its collection
                self._forget(name)
                return metadata_of(name, self._hot_collection(name, fresh=True), field_name, ids)
        out: dict[str, Any] = {}
        for got in pages(self._collection(name), ["metadatas"]):
            for id_, meta in zip(got["ids"], got["metadatas"], strict=True):
                out[id_] = (meta or {}).get(field_name)
        return out

    def fetch(
        self,
        name: str,
        *,
        ids: Sequence[str],
        model: str,
        query: np.ndarray,
        where: Mapping[str, Any] | None = None,
    ) -> list[VectorHit]:
        """Vectors by id (those matching `where`), scored against `query` by cosine distance."""
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        collection = self._checked(name, model, int(query.shape[0]))
        if not ids:
            return []
        got = read_retrying(
            name,
            lambda: collection.get(
                ids=list(ids), where=dict(where) if where else None, include=["embeddings", "metadatas", "documents"]
            ),
        )
        out = []
        qn = query / (np.linalg.norm(query) or 1.0)
        for id_, emb, meta, doc in zip(got["ids"], got["embeddings"], got["metadatas"], got["documents"], strict=True):
            v = np.asarray(emb, dtype=np.float32)
            similarity = float(np.dot(qn, v / (np.linalg.norm(v) or 1.0)))
            out.append(VectorHit(id_, 1.0 - similarity, user_metadata(meta), doc))
        return out

    def count(self, name: str) -> int:
        return read_retrying(name, self._collection(name).count)

    def ids(self, name: str, page: int = 10_000) -> list[str]:
        """Every id in the index (unordered)."""
        return [id_ for got in pages(self._collection(name), [], page) for id_ in got["ids"]]

    def vector_pages(
        self, name: str, ids: Sequence[str], batch: int = 1_000, *, field_name: str | None = None
    ) -> Iterator[tuple[list[str], np.ndarray, list[Any]]]:
        """(ids found, float32 matrix, their metadata[field_name] or Nones) per batch of `ids`; absent ids
        are left out (asking for absent ids is cheap: 20 ms per 5,000 on a server). Paging by id is faster
        than Chroma's offset paging, and a caller can keep each page in a smaller form as it arrives."""
        collection = self._collection(name)
        include = ["embeddings", "metadatas"] if field_name else ["embeddings"]
        for start in range(0, len(ids), batch):
            page = list(ids[start : start + batch])
            got = read_retrying(name, lambda page=page: collection.get(ids=page, include=include))
            if len(got["ids"]):
                metadatas = got["metadatas"] if field_name else [None] * len(got["ids"])
                values = [(m or {}).get(field_name) if field_name else None for m in metadatas]
                yield list(got["ids"]), np.asarray(got["embeddings"], dtype=np.float32), values

    def vectors(self, name: str, ids: Sequence[str], batch: int = 1_000) -> dict[str, np.ndarray]:
        """id -> stored vector for the ids that exist (absent ids are left out)."""
        found: dict[str, np.ndarray] = {}
        for page_ids, matrix, _ in self.vector_pages(name, ids, batch):
            found.update(zip(page_ids, matrix, strict=True))
        return found

    def query(
        self,
        name: str,
        *,
        model: str,
        vector: np.ndarray,
        k: int,
        where: Mapping[str, Any] | None = None,
        ids: Sequence[str] | None = None,
    ) -> list[VectorHit]:
        """The `k` nearest vectors (among `ids` when given, matching `where` when given)."""
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        if k < 1:
            raise InvalidIndexRequest(f"k must be at least 1, not {k}")
        if ids is not None and not len(ids):
            return []

        def run(collection: Any) -> Any:
            held = None
            if ids is not None:
                # Chroma fails the whole query ("Error finding id") when one id is not in the index (not
                # added yet, or deleted): ask only for the ids it holds.
                held = read_retrying(name, lambda: collection.get(ids=list(ids), include=[])["ids"])
                if not held:
                    return None
            return read_retrying(
                name,
                lambda: collection.query(
                    query_embeddings=vector.reshape(1, -1),
                    n_results=k,
                    where=dict(where) if where else None,
                    ids=held,
                    include=["distances", "metadatas", "documents"],
                ),
            )

        result = self._on_collection(name, model, int(vector.shape[0]), run)
        if result is None:
            return []
        ids = result["ids"][0]
        return [
            VectorHit(id_, float(dist), user_metadata(meta), doc)
            for id_, dist, meta, doc in zip(
                ids, result["distances"][0], result["metadatas"][0], result["documents"][0], strict=True
            )
        ]


def open_vector_store(settings: Any) -> VectorStore:
    """The Chroma server the settings name, else a persistent folder under the lake home."""
    if settings.chroma_url:
        return VectorStore.server(settings.chroma_url, default_hnsw=settings.hnsw)
    return VectorStore.local(settings.chroma_path, default_hnsw=settings.hnsw)
