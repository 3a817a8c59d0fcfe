"""Keeping a vector index in step with a corpus, incrementally.

Only documents whose content hash is new or changed are embedded; documents gone from the corpus
are deleted; everything else is skipped, so re-indexing after a 1% change costs about 1% of a full
run. Identical texts are encoded once (a quarter of the sample's 100,000 worker documents repeat one
another's role, skills and certifications). Embedding and the vector store's upserts overlap: while
the model encodes batch N+1, a writer thread upserts batch N (both release the GIL).

The work splits in three for embedding past one process: `plan_index` (once), `embed_part` (once per
part of `split_plan`, anywhere that reaches the same vector store), `finish_index` (once, after all).
`sync_index` runs the three in one process.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from lakehouse_assets.core.lake.arrow_types import one_chunk
from lakehouse_assets.core.vectors.embedder import Embedder
from lakehouse_assets.core.vectors.exceptions import IndexConflict, IndexNotFound
from lakehouse_assets.core.vectors.store import VectorStore
from lakehouse_assets.core.vectors.types import IndexSpec

EMBED_BATCH = 512


@dataclass(frozen=True)
class IndexSync:
    index: str
    embedded: int
    skipped: int
    deleted: int
    total: int
    model: str
    dimension: int
    seconds: float
    encoded: int = 0  # distinct texts among the embedded documents, each encoded once
    replaced: str | None = None  # why an index of other settings (another model) was dropped and rebuilt
    embedded_ids: frozenset[str] = frozenset()  # the ids embedded (new or changed)


def index_metadata_columns(metadata_columns: Sequence[str]) -> list[str]:
    """The metadata stored with each document's vector: its entity, its content hash, then the corpus's
    metadata columns."""
    return ["entity_id", "content_hash", *[c for c in metadata_columns if c not in ("entity_id", "content_hash")]]


def metadata_rows(table: pa.Table, columns: Sequence[str]) -> list[dict[str, Any]]:
    """Chroma metadata: scalar values only, and no nulls (an absent key is how Chroma says null)."""
    rows = table.select(list(columns)).to_pylist()
    return [{k: v for k, v in row.items() if v is not None} for row in rows]


def _embed_once(embedder: Embedder, texts: list[str]) -> tuple[np.ndarray, int]:
    """Vectors for `texts`, each distinct text encoded once; and how many were encoded."""
    first: dict[str, int] = {}
    for t in texts:
        first.setdefault(t, len(first))
    unique = embedder.embed(list(first))
    return unique[[first[t] for t in texts]], len(first)


def plan_sync(documents: pa.Table, existing: dict[str, Any]) -> tuple[list[int], list[str]]:
    """(row positions to embed, ids to delete) given the index's id -> content_hash."""
    ids = documents.column("id").to_pylist()
    hashes = documents.column("content_hash").to_pylist()
    todo = [i for i, (id_, h) in enumerate(zip(ids, hashes, strict=True)) if existing.get(id_) != h]
    present = set(ids)
    removed = sorted(id_ for id_ in existing if id_ not in present)
    return todo, removed


@dataclass(frozen=True)
class IndexPlan:
    """What keeping an index in step takes: the index exists with the embedder's settings, and these
    are the documents to embed and the ids to delete. Small enough to hand from one process to others."""

    index: str
    model: str
    dimension: int
    todo: tuple[str, ...]  # ids of new or changed documents
    changed: frozenset[str]  # those of them the index already holds (an older text)
    removed: tuple[str, ...]  # ids the index holds that the corpus no longer has
    total: int
    replaced: str | None = None


@dataclass(frozen=True)
class PartSync:
    """What embedding one part of a plan did."""

    embedded: int
    encoded: int
    seconds: float


def plan_index(
    index: str,
    documents: pa.Table,
    *,
    embedder: Embedder,
    store: VectorStore,
    hnsw: dict[str, int] | None = None,
    delete_missing: bool = True,
    replace_other_settings: bool = False,
) -> IndexPlan:
    """Make sure `index` exists with `embedder`'s settings and plan what keeping it in step with
    `documents` takes. An existing index of another model, dimension or HNSW settings is an
    IndexConflict, unless `replace_other_settings`: then it is dropped and recreated empty."""
    spec = IndexSpec(index, embedder.model, embedder.dimension, hnsw=hnsw or {})
    replaced = None
    # Without deletes only the documents' own ids matter: an online record reads one entry, not the index.
    ids = None if delete_missing else documents.column("id").to_pylist()
    existing: dict[str, Any] | None = None
    if store.ensured(spec):  # an online writer of a few records: settings checked moments ago
        try:
            existing = store.get_metadata(index, "content_hash", ids=ids)
        except IndexNotFound:
            existing = None  # dropped since: ensure it again
    if existing is None:
        try:
            store.ensure_index(spec)
        except IndexConflict as conflict:
            if not replace_other_settings:
                raise
            replaced = str(conflict)
            store.delete_index(index)
            store.ensure_index(spec)
        existing = store.get_metadata(index, "content_hash", ids=ids)
    todo, removed = plan_sync(documents, existing)
    todo_ids = documents.column("id").take(pa.array(todo, pa.int64())).to_pylist()
    return IndexPlan(
        index=index,
        model=embedder.model,
        dimension=embedder.dimension,
        todo=tuple(todo_ids),
        changed=frozenset(i for i in todo_ids if i in existing),
        removed=tuple(removed) if delete_missing else (),
        total=documents.num_rows,
        replaced=replaced,
    )


def split_plan(plan: IndexPlan, documents: pa.Table, parts: int) -> list[tuple[str, ...]]:
    """The plan's ids cut into `parts` parts for as many processes, by a hash of each text: identical
    texts fall in one part, so each is still encoded once. Empty parts are left out."""
    if parts < 1:
        raise ValueError(f"parts must be at least 1, got {parts}")
    if parts == 1:
        return [plan.todo] if plan.todo else []
    text_of = dict(zip(documents.column("id").to_pylist(), documents.column("text").to_pylist(), strict=True))
    cut: list[list[str]] = [[] for _ in range(parts)]
    for id_ in plan.todo:
        cut[zlib.crc32(text_of[id_].encode()) % parts].append(id_)
    return [tuple(p) for p in cut if p]


def embed_part(
    plan: IndexPlan,
    ids: Sequence[str],
    documents: pa.Table,
    metadata_columns: Sequence[str],
    *,
    embedder: Embedder,
    store: VectorStore,
    batch_size: int = EMBED_BATCH,
    progress: Callable[[int, int], None] | None = None,
    store_texts: bool = True,
) -> PartSync:
    """Embed the documents of `ids` (a part of `plan`, or all of it) and write them into the plan's index.

    Ordered by the model's length of each text, then the text: texts of one length share a batch (no
    padding), and identical documents sit side by side, so one batch encodes them once. A document
    changed since the plan was made is written as it is now, with its new content hash."""
    start = time.perf_counter()
    if embedder.model != plan.model:
        raise IndexConflict(f"index {plan.index!r} was planned for {plan.model}, not {embedder.model}")
    wanted = set(ids)
    position = [i for i, id_ in enumerate(documents.column("id").to_pylist()) if id_ in wanted]
    columns = index_metadata_columns(metadata_columns)
    lock = threading.Lock()
    done = encoded = 0
    texts_all = documents.column("text").to_pylist()
    lengths = dict(zip(position, embedder.token_counts([texts_all[i] for i in position]), strict=True))
    position.sort(key=lambda i: (lengths[i], texts_all[i]))
    documents = one_chunk(documents)  # a take per batch follows
    with ThreadPoolExecutor(1, thread_name_prefix="vector-upsert") as writer:
        pending: Future | None = None
        for start_at in range(0, len(position), batch_size):
            rows = documents.take(pa.array(position[start_at : start_at + batch_size], pa.int64()))
            vectors, n_encoded = _embed_once(embedder, rows.column("text").to_pylist())
            encoded += n_encoded
            if pending is not None:
                pending.result()  # at most one upsert in flight: bounded memory, errors surface here

            def upsert(rows: pa.Table = rows, vectors: Any = vectors) -> None:
                nonlocal done
                batch_ids = rows.column("id").to_pylist()
                store.upsert(
                    plan.index,
                    model=embedder.model,
                    ids=batch_ids,
                    embeddings=vectors,
                    documents=rows.column("text").to_pylist() if store_texts else None,
                    metadatas=metadata_rows(rows, columns),
                    new_ids=not any(i in plan.changed for i in batch_ids),
                )
                with lock:
                    done += rows.num_rows
                if progress:
                    progress(done, len(position))

            pending = writer.submit(upsert)
        if pending is not None:
            pending.result()
    return PartSync(embedded=len(position), encoded=encoded, seconds=time.perf_counter() - start)


def finish_index(plan: IndexPlan, parts: Sequence[PartSync], *, store: VectorStore, seconds: float) -> IndexSync:
    """Delete what the corpus no longer has, once every part is written, and sum the parts up."""
    store.delete(plan.index, list(plan.removed))
    embedded = sum(p.embedded for p in parts)
    return IndexSync(
        index=plan.index,
        embedded=embedded,
        skipped=plan.total - len(plan.todo),
        deleted=len(plan.removed),
        total=plan.total,
        model=plan.model,
        dimension=plan.dimension,
        seconds=seconds,
        encoded=sum(p.encoded for p in parts),
        replaced=plan.replaced,
        embedded_ids=frozenset(plan.todo),
    )


def sync_index(
    index: str,
    documents: pa.Table,
    metadata_columns: Sequence[str],
    *,
    embedder: Embedder,
    store: VectorStore,
    hnsw: dict[str, int] | None = None,
    batch_size: int = EMBED_BATCH,
    progress: Callable[[int, int], None] | None = None,
    delete_missing: bool = True,
    replace_other_settings: bool = False,
    store_texts: bool = True,
) -> IndexSync:
    """Make `index` hold `documents` (columns id, entity_id, text, content_hash + metadata); with
    `delete_missing`, exactly those (vectors of documents no longer present are deleted). In one
    process: `plan_index`, `embed_part` over the whole plan, `finish_index`.

    An existing index of another model, dimension or HNSW settings is an IndexConflict, unless
    `replace_other_settings` (a corpus's own index, derived from the lake): then it is dropped and
    rebuilt with this embedder, and `IndexSync.replaced` says why. Its vectors cannot be kept: they
    live in another space.

    Without `store_texts` the index holds vectors and metadata only (a third faster to write into Chroma):
    for an index whose hits take their text from elsewhere, like the instant tier's from the search frame."""
    start = time.perf_counter()
    plan = plan_index(
        index,
        documents,
        embedder=embedder,
        store=store,
        hnsw=hnsw,
        delete_missing=delete_missing,
        replace_other_settings=replace_other_settings,
    )
    part = embed_part(
        plan,
        plan.todo,
        documents,
        metadata_columns,
        embedder=embedder,
        store=store,
        batch_size=batch_size,
        progress=progress,
        store_texts=store_texts,
    )
    return finish_index(plan, [part], store=store, seconds=time.perf_counter() - start)
