"""IndexMirror: a small index searched in memory answers as Chroma does, and follows writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lakehouse_assets.core.vectors.exceptions import IndexNotFound
from lakehouse_assets.core.vectors.mirror import IndexMirror, matches
from lakehouse_assets.core.vectors.store import VectorStore
from lakehouse_assets.core.vectors.types import IndexSpec

WHERES = [
    None,
    {"outcome": {"$eq": "success"}},
    {"$and": [{"n": {"$gte": 10}}, {"outcome": {"$ne": "failure"}}]},
    {"entity_id": {"$nin": ["3", "4", "5"]}},
    {"n": {"$in": [1, 2, 3, 40]}},
]


@pytest.fixture
def store(tmp_path: Path) -> VectorStore:
    store = VectorStore.local(tmp_path / "chroma")
    store.ensure_index(IndexSpec("small", "m", 8))
    rng = np.random.default_rng(3)
    outcomes = ["success", "partial", "failure"]
    store.upsert(
        "small",
        model="m",
        ids=[f"p{i}" for i in range(60)],
        embeddings=rng.normal(size=(60, 8)).astype(np.float32),
        documents=[f"query {i}" for i in range(60)],
        metadatas=[{"entity_id": str(i), "n": i, "outcome": outcomes[i % 3]} for i in range(60)],
    )
    return store


@pytest.mark.parametrize("where", WHERES)
def test_the_copy_answers_as_the_index_does(store: VectorStore, where):
    mirror = IndexMirror(store, "small")
    vector = np.random.default_rng(5).normal(size=8).astype(np.float32)
    from_memory = mirror.query(model="m", vector=vector, k=7, where=where)
    from_index = store.query("small", model="m", vector=vector, k=7, where=where)
    assert from_memory is not None and [h.id for h in from_memory] == [h.id for h in from_index]
    np.testing.assert_allclose([h.distance for h in from_memory], [h.distance for h in from_index], atol=1e-5)
    assert [(h.metadata, h.document) for h in from_memory] == [(h.metadata, h.document) for h in from_index]


def test_own_writes_are_applied_without_a_round_trip_and_others_are_read_incrementally(store: VectorStore):
    mirror = IndexMirror(store, "small", refresh_seconds=3600)
    vector = np.ones(8, dtype=np.float32)
    assert mirror.query(model="m", vector=vector, k=1)[0].id != "new"
    asked: list[int] = []
    real = store._collection

    def counting(name):
        collection = real(name)
        get = collection.get

        def spy(*args, **kwargs):
            asked.append(len(kwargs.get("ids") or []))
            return get(*args, **kwargs)

        collection.get = spy
        return collection

    store._collection = counting  # type: ignore[method-assign]
    store.upsert("small", model="m", ids=["new"], embeddings=vector.reshape(1, -1), metadatas=[{"n": 1}])
    asked.clear()
    top = mirror.query(model="m", vector=vector, k=1)[0]
    assert (top.id, top.metadata, asked) == ("new", {"n": 1}, [])  # read your writes, from the store's log
    store.delete("small", ["new"])
    assert mirror.query(model="m", vector=vector, k=1)[0].id != "new" and asked == []

    other = VectorStore(store.client)  # another process's writes: seen once the copy looks again
    other.upsert("small", model="m", ids=["theirs"], embeddings=vector.reshape(1, -1), metadatas=[{"n": 2}])
    assert mirror.query(model="m", vector=vector, k=1)[0].id != "theirs"
    mirror.refresh_seconds = 0.0
    store._collection = counting  # type: ignore[method-assign]
    asked.clear()
    assert mirror.query(model="m", vector=vector, k=1)[0].id == "theirs"
    assert [n for n in asked if n] == [1]  # the 60 it held were not read again

    other.delete("small", ["p7", "p30"])  # rows gone from the middle of the copy
    probe = np.random.default_rng(9).normal(size=8).astype(np.float32)
    from_memory = mirror.query(model="m", vector=probe, k=60)
    from_index = store.query("small", model="m", vector=probe, k=60)
    assert from_memory is not None and [h.id for h in from_memory] == [h.id for h in from_index]
    assert {"p7", "p30"}.isdisjoint(h.id for h in from_memory) and len(from_memory) == 59


def test_no_index_is_index_not_found_and_another_model_is_left_to_the_store(store: VectorStore):
    with pytest.raises(IndexNotFound):
        IndexMirror(store, "absent").query(model="m", vector=np.ones(8), k=1)
    assert IndexMirror(store, "small").query(model="other", vector=np.ones(8), k=1) is None
    assert IndexMirror(store, "small", max_size=10).query(model="m", vector=np.ones(8), k=1) is None


def test_where_semantics_for_missing_keys():
    assert matches({}, {"n": {"$ne": 1}}) and matches({}, {"n": {"$nin": [1]}})
    assert not matches({}, {"n": {"$eq": 1}}) and not matches({}, {"n": {"$gt": 0}})
    assert not matches({"n": "x"}, {"n": {"$gt": 0}})


def test_a_large_or_absent_index_is_looked_at_once_per_refresh_and_a_first_write_is_seen(tmp_path: Path):
    store = VectorStore.local(tmp_path / "chroma")
    looks: list[str] = []
    real = store.version
    store.version = lambda name: (looks.append(name), real(name))[1]  # type: ignore[method-assign]
    mirror = IndexMirror(store, "later", refresh_seconds=3600)
    for _ in range(3):
        with pytest.raises(IndexNotFound):
            mirror.query(model="m", vector=np.ones(2), k=1)
    assert looks == ["later"]
    store.ensure_index(IndexSpec("later", "m", 2))
    store.upsert("later", model="m", ids=["a"], embeddings=np.ones((1, 2), dtype=np.float32))
    assert [h.id for h in mirror.query(model="m", vector=np.ones(2), k=1)] == ["a"]  # read your first write
    large = IndexMirror(store, "later", refresh_seconds=3600, max_size=0)
    looks.clear()
    assert large.query(model="m", vector=np.ones(2), k=1) is None
    assert large.query(model="m", vector=np.ones(2), k=1) is None and looks == ["later"]


def test_a_bulk_write_is_logged_without_its_vectors_and_a_copy_reads_the_index_instead(store: VectorStore):
    """A Dagster run syncing 100,000 documents must not keep every batch it wrote in memory."""
    mirror = IndexMirror(store, "small", refresh_seconds=3600)
    mirror.query(model="m", vector=np.ones(8), k=1)
    seq = store.writes["small"]
    ids = [f"bulk{i}" for i in range(300)]
    store.upsert("small", model="m", ids=ids, embeddings=np.ones((300, 8), dtype=np.float32))
    (entry,) = [e for _, e, _ in store.writes_since("small", seq)]
    assert entry.op == "unknown" and entry.embeddings is None
    assert len(mirror.query(model="m", vector=np.ones(8), k=400)) == 360  # read from the index
