"""A small vector index held in memory: searches of it without a round trip to Chroma.

Every search of the default corpora also asks the `playbooks` index (and `use_playbook` asks it for the
query's neighbours). Over a Chroma server each of those is an HTTP round trip and HNSW work on the server,
which under a mixed load at 50 clients held a third of the API's wall time. An index of up to `max_size`
vectors is kept here instead, as unit float32 rows, and ranked exactly (a few thousand rows: well under a
millisecond).

The copy follows the index: a write through the same VectorStore is seen by the next search (read your
writes); a write by another process within `refresh_seconds` (its revision moves). Only what changed is
read: ids new to the copy are fetched, ids gone are dropped. Ids are taken to name their content (a
playbook's id is a hash of the record), so a vector rewritten in place under the same id keeps its old copy
until the index is rebuilt (a new generation), when the copy is read whole again. `where` filters are
evaluated here with Chroma's semantics for the operators the project sends ($eq, $ne, $gt, $gte, $lt,
$lte, $in, $nin, $and).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from lakehouse_assets.core.vectors.embedder import unit_rows
from lakehouse_assets.core.vectors.exceptions import IndexNotFound
from lakehouse_assets.core.vectors.retry import read_retrying
from lakehouse_assets.core.vectors.store import VectorStore
from lakehouse_assets.core.vectors.types import IndexVersion, VectorHit, user_metadata

MAX_SIZE = 50_000


@dataclass(frozen=True)
class _Copy:
    version: IndexVersion
    writes: int
    ids: list[str]
    matrix: np.ndarray  # unit rows
    metadatas: list[dict[str, Any]]
    documents: list[str | None]

    @cached_property
    def positions(self) -> dict[str, int]:
        return {id_: i for i, id_ in enumerate(self.ids)}


def matches(meta: Mapping[str, Any], where: Mapping[str, Any] | None) -> bool:
    """Chroma's `where` over one vector's metadata (a missing key fails every comparison but $ne/$nin)."""
    if not where:
        return True
    for key, cond in where.items():
        if key == "$and":
            if not all(matches(meta, c) for c in cond):
                return False
            continue
        if key == "$or":
            if not any(matches(meta, c) for c in cond):
                return False
            continue
        ops = cond if isinstance(cond, Mapping) else {"$eq": cond}
        for op, value in ops.items():
            have = meta.get(key)
            if op == "$ne":
                ok = have != value
            elif op == "$nin":
                ok = have not in value
            elif have is None:
                ok = False
            elif op == "$eq":
                ok = have == value
            elif op == "$in":
                ok = have in value
            elif op in ("$gt", "$gte", "$lt", "$lte"):
                if isinstance(have, str) or isinstance(value, str):
                    ok = False
                else:
                    ok = {"$gt": have > value, "$gte": have >= value, "$lt": have < value, "$lte": have <= value}[op]
            else:
                raise ValueError(f"where operator {op!r} is not evaluated in memory")
            if not ok:
                return False
    return True


class IndexMirror:
    """One index of `store`, copied into memory while it has at most `max_size` vectors."""

    def __init__(self, store: VectorStore, name: str, *, refresh_seconds: float = 0.5, max_size: int = MAX_SIZE):
        self.store, self.name = store, name
        self.refresh_seconds, self.max_size = refresh_seconds, max_size
        self._copy: _Copy | None = None
        self._uncopied = False  # the index did not exist, or was too large, when last looked at
        self._absent = False  # it did not exist
        self._seen_writes = 0  # this store's writes to the index when it was last looked at
        self._checked = -math.inf
        self._lock = threading.Lock()

    def _current(self) -> _Copy | None:
        """The copy, brought up to date: this store's own writes are applied from its write log (no round
        trip); another process's are looked for every `refresh_seconds`. None when the index does not exist
        or is too large to copy (the caller asks Chroma). A search never waits for another's refresh when a
        copy is there to answer from."""
        copy, writes = self._copy, self.store.writes.get(self.name, 0)
        if self._settled(copy, writes):
            return copy
        if not self._lock.acquire(blocking=copy is None or copy.writes != writes):
            return copy  # another search is refreshing it
        try:
            copy, writes = self._copy, self.store.writes.get(self.name, 0)
            if copy is not None and copy.writes != writes:
                applied = self._apply(copy)
                if applied is not None:
                    self._copy = copy = applied
            # Another search may have looked while this one waited for the lock: then its look stands
            # (under load, every waiter asking Chroma again held a tenth of the API's time).
            if self._settled(copy, writes):
                return copy
            now = time.monotonic()
            self._seen_writes = writes
            try:
                version = self.store.version(self.name)
            except IndexNotFound:
                self._copy, self._uncopied, self._absent, self._checked = None, True, True, now
                return None
            self._uncopied, self._absent, self._checked = False, False, now
            if version.count > self.max_size:
                self._copy, self._uncopied = None, True
            elif copy is None or copy.version != version:
                self._copy = self._follow(copy, version, self.store.writes.get(self.name, 0))
            return self._copy
        finally:
            self._lock.release()

    def _settled(self, copy: _Copy | None, writes: int) -> bool:
        """Looked at within `refresh_seconds`, and this store's writes since are in the copy (or there is none)."""
        if time.monotonic() - self._checked >= self.refresh_seconds:
            return False
        return (copy is not None and copy.writes == writes) or (self._uncopied and self._seen_writes == writes)

    def _apply(self, copy: _Copy) -> _Copy | None:
        """The copy with this store's writes since it applied; None when they cannot be replayed."""
        entries = self.store.writes_since(self.name, copy.writes)
        if entries is None or any(e.op not in ("upsert", "delete") for _, e, _ in entries):
            return None
        ids, matrix = list(copy.ids), copy.matrix
        metadatas, documents = list(copy.metadatas), list(copy.documents)
        position = {id_: i for i, id_ in enumerate(ids)}
        appended: list[np.ndarray] = []  # rows of new ids, joined to the matrix once (not a copy per write)

        def join() -> np.ndarray:
            if appended:
                joined = np.concatenate([matrix, *appended])
                appended.clear()
                return joined
            return matrix

        for _, entry, _ in entries:
            if entry.op == "delete":
                matrix = join()
                gone = {position[i] for i in entry.ids if i in position}
                keep = [i for i in range(len(ids)) if i not in gone]
                ids, matrix = [ids[i] for i in keep], matrix[keep]
                metadatas, documents = [metadatas[i] for i in keep], [documents[i] for i in keep]
                position = {id_: i for i, id_ in enumerate(ids)}
                continue
            rows = unit_rows(np.asarray(entry.embeddings, dtype=np.float32))
            width = matrix.shape[1] if matrix.shape[0] else (appended[0].shape[1] if appended else rows.shape[1])
            if rows.shape[1] != width:
                return None
            if not matrix.shape[0]:
                matrix = np.zeros((0, rows.shape[1]), dtype=np.float32)
            for j, id_ in enumerate(entry.ids):
                meta = dict(entry.metadatas[j]) if entry.metadatas else {}
                doc = entry.documents[j] if entry.documents is not None else None
                i = position.get(id_)
                if i is not None:
                    if i >= matrix.shape[0]:
                        matrix = join()
                    matrix = matrix.copy() if matrix is copy.matrix else matrix
                    matrix[i], metadatas[i], documents[i] = rows[j], meta, doc
                else:
                    position[id_] = len(ids)
                    ids.append(id_)
                    metadatas.append(meta)
                    documents.append(doc)
                    appended.append(rows[j : j + 1])
        matrix = join()
        last_seq, _, revision = entries[-1]
        version = copy.version._replace(revision=revision, count=len(ids))
        return _Copy(version, last_seq, ids, matrix, metadatas, documents)

    def _follow(self, copy: _Copy | None, version: IndexVersion, writes: int) -> _Copy:
        if copy is not None and copy.version.generation != version.generation:
            copy = None
        collection = self.store._collection(self.name)
        ids = self.store.ids(self.name)
        held = {} if copy is None else copy.positions
        keep = [held[i] for i in ids if i in held]
        new = [i for i in ids if i not in held]
        out_ids = [copy.ids[i] for i in keep] if copy else []
        rows = []
        if copy is not None and keep:
            # Mostly the index only grew (another worker's playbooks): the rows held are then a view, not a copy.
            prefix = keep == list(range(len(keep)))
            rows.append(copy.matrix[: len(keep)] if prefix else copy.matrix[keep])
        metadatas = [copy.metadatas[i] for i in keep] if copy else []
        documents = [copy.documents[i] for i in keep] if copy else []
        for start in range(0, len(new), 1000):
            page = new[start : start + 1000]
            got = read_retrying(
                self.name, lambda page=page: collection.get(ids=page, include=["embeddings", "metadatas", "documents"])
            )
            if not len(got["ids"]):
                continue
            out_ids.extend(got["ids"])
            rows.append(unit_rows(np.asarray(got["embeddings"], dtype=np.float32)))
            metadatas.extend(user_metadata(m) for m in got["metadatas"])
            documents.extend(got["documents"])
        dimension = copy.matrix.shape[1] if copy is not None else 0
        matrix = np.concatenate(rows) if rows else np.zeros((0, dimension), dtype=np.float32)
        return _Copy(version, writes, out_ids, matrix, metadatas, documents)

    def held(self, ids: Sequence[str]) -> set[str] | None:
        """Which of `ids` the copy holds as last brought up to date (a search's query refreshes it); None when
        the index is not copied here."""
        copy = self._copy
        if copy is None:
            return set() if self._absent else None
        return {i for i in ids if i in copy.positions}

    def query(
        self, *, model: str, vector: np.ndarray, k: int, where: Mapping[str, Any] | None = None
    ) -> list[VectorHit] | None:
        """The `k` nearest vectors matching `where`, exactly; None when the index is not copied here (too
        large) or its model is another (the caller then asks the store, which names the conflict)."""
        copy = self._current()
        if copy is None:
            if self._absent:
                raise IndexNotFound(self.name)
            return None
        if copy.version.model != model or (len(copy.ids) and copy.matrix.shape[1] != np.asarray(vector).size):
            return None
        if not copy.ids:
            return []
        q = unit_rows(np.asarray(vector, dtype=np.float32).reshape(1, -1))[0]
        similarity = copy.matrix @ q
        order = _best_first(-similarity, None if where else k)
        hits: list[VectorHit] = []
        for i in order:
            if matches(copy.metadatas[i], where):
                hits.append(
                    VectorHit(copy.ids[i], 1.0 - float(similarity[i]), dict(copy.metadatas[i]), copy.documents[i])
                )
                if len(hits) == k:
                    break
        return hits


def _best_first(distance: np.ndarray, k: int | None) -> np.ndarray:
    """Positions by ascending `distance`, ties by position: all of them, or only the first `k` (found by a
    partition, not a sort of the whole index: every search asks the playbooks copy)."""
    if k is None or k >= len(distance):
        return np.argsort(distance, kind="stable")
    kth = np.partition(distance, k - 1)[k - 1]
    candidates = np.flatnonzero(distance <= kth)  # ascending positions: the stable sort keeps ties in order
    return candidates[np.argsort(distance[candidates], kind="stable")][:k]


class Mirrors:
    """Queries of indexes through their copies in memory while they are small (IndexMirror), else the store."""

    def __init__(self, store: VectorStore) -> None:
        self.store = store
        self._mirrors: dict[str, IndexMirror] = {}

    def mirror(self, index: str) -> IndexMirror:
        found = self._mirrors.get(index)
        return found if found is not None else self._mirrors.setdefault(index, IndexMirror(self.store, index))

    def query(
        self, index: str, *, model: str, vector: np.ndarray, k: int, where: dict[str, Any] | None = None
    ) -> list[VectorHit]:
        """The index's nearest `k` matching `where`."""
        hits = self.mirror(index).query(model=model, vector=vector, k=k, where=where)
        if hits is not None:
            return hits
        return self.store.query(index, model=model, vector=vector, k=k, where=where)

    def held(self, index: str, ids: Sequence[str]) -> set[str] | None:
        """Which of `ids` the index's copy holds, when it has been copied (see IndexMirror.held)."""
        found = self._mirrors.get(index)
        return None if found is None else found.held(ids)
