"""VectorStore over Chroma: the in-process persistent client and a real `chroma run` server.

Behaviour tests run on both backends (`store` is parametrized); the server path is also exercised
with two real processes writing into one index at once, as the design requires whenever more than
one process writes. The Dagster resource (`VectorStoreResource`) is checked at the end; it is
imported inside those tests so that the spawned writer processes, which import this module, do not
pay for importing Dagster.
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lakehouse_assets.core.settings import LakehouseSettings
from lakehouse_assets.core.vectors.exceptions import IndexConflict, IndexNotFound, InvalidIndexRequest, VectorStoreError
from lakehouse_assets.core.vectors.store import VectorStore
from lakehouse_assets.core.vectors.types import IndexSpec, validate_index_name
from tests.chroma_server import free_port

MODEL = "test-model"
HNSW = {"ef_construction": 120, "ef_search": 64, "max_neighbors": 16}


# -- fixtures and helpers ------------------------------------------------------------------


@pytest.fixture(params=["local", "server"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> VectorStore:
    """A fresh persistent folder per test, or the session's Chroma server (indexes named per test)."""
    if request.param == "local":
        return VectorStore.local(tmp_path / "chroma")
    return VectorStore.server(request.getfixturevalue("chroma_server_url"))


@pytest.fixture
def local_store(tmp_path: Path) -> VectorStore:
    return VectorStore.local(tmp_path / "chroma")


@pytest.fixture
def name() -> str:
    """An index name no other test uses (the server is shared by the whole session)."""
    return f"t-{uuid.uuid4().hex[:16]}"


def unit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def make_index(store: VectorStore, name: str, dimension: int = 8, **hnsw: int) -> None:
    store.create_index(IndexSpec(name, MODEL, dimension, hnsw=hnsw))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


# -- creating indexes ----------------------------------------------------------------------


def test_create_index_records_model_dimension_cosine_and_hnsw(store: VectorStore, name: str) -> None:
    info, created = store.create_index(IndexSpec(name, MODEL, 8, hnsw=HNSW))
    assert created is True
    assert (info.name, info.model, info.dimension, info.count) == (name, MODEL, 8, 0)
    assert info.hnsw == {"space": "cosine", **HNSW}
    assert store.get_index(name) == info
    raw = store.client.get_collection(name, embedding_function=None)
    assert raw.metadata["model"] == MODEL
    assert raw.metadata["dimension"] == 8
    assert raw.configuration["hnsw"]["space"] == "cosine"


def test_create_index_uses_the_store_default_hnsw(tmp_path: Path, name: str) -> None:
    store = VectorStore.local(tmp_path / "chroma", default_hnsw={**HNSW, "ef_search": 77})
    info, _ = store.create_index(IndexSpec(name, MODEL, 4))
    assert info.hnsw == {"space": "cosine", **HNSW, "ef_search": 77}


def test_create_index_again_with_same_settings_is_idempotent(store: VectorStore, name: str) -> None:
    spec = IndexSpec(name, MODEL, 8, hnsw=HNSW)
    first, _ = store.create_index(spec)
    again, created = store.create_index(spec)
    assert created is False
    assert again == first
    assert store.ensure_index(spec) == first


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model": "other-model"}, r"model 'test-model' != 'other-model'"),
        ({"dimension": 16}, r"dimension 8 != 16"),
        ({"hnsw": {**HNSW, "ef_search": 65}}, r"ef_search 64 != 65"),
        ({"hnsw": {**HNSW, "max_neighbors": 48}}, r"max_neighbors 16 != 48"),
        ({"hnsw": {**HNSW, "ef_construction": 100}}, r"ef_construction 120 != 100"),
    ],
    ids=["model", "dimension", "ef_search", "max_neighbors", "ef_construction"],
)
def test_create_index_with_other_settings_conflicts(
    store: VectorStore, name: str, change: dict[str, Any], message: str
) -> None:
    spec = IndexSpec(name, MODEL, 8, hnsw=HNSW)
    before, _ = store.create_index(spec)
    with pytest.raises(IndexConflict, match=message) as caught:
        store.create_index(dataclasses.replace(spec, **change))
    assert name in str(caught.value)
    assert store.get_index(name) == before


@pytest.mark.parametrize(
    "bad",
    ["", "ab", "Abc", "-abc", "abc-", "_abc", "a b c", "ab/c", "abc\n", "a" * 64, "ü-index", 123],
)
def test_invalid_index_names(local_store: VectorStore, bad: Any) -> None:
    with pytest.raises(InvalidIndexRequest, match="invalid index name"):
        validate_index_name(bad)
    with pytest.raises(InvalidIndexRequest):
        local_store.create_index(IndexSpec(bad, MODEL, 8))
    with pytest.raises(InvalidIndexRequest):
        local_store.get_index(bad)
    assert local_store.list_indexes() == []


def test_valid_index_names(local_store: VectorStore) -> None:
    for good in ("abc", "workers", "corpus.workers-v2_384", "a" * 63, "0ab"):
        assert validate_index_name(good) == good
        assert local_store.create_index(IndexSpec(good, MODEL, 8))[1] is True


@pytest.mark.parametrize(
    ("spec_change", "message"),
    [
        ({"model": ""}, "model"),
        ({"dimension": 0}, "dimension"),
        ({"dimension": 70_000}, "dimension"),
        ({"dimension": 8.0}, "dimension"),
        ({"hnsw": {"ef": 10}}, "unknown HNSW settings"),
    ],
    ids=["no-model", "dimension-0", "dimension-huge", "dimension-float", "unknown-hnsw"],
)
def test_invalid_index_specs(local_store: VectorStore, name: str, spec_change: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidIndexRequest, match=message):
        local_store.create_index(dataclasses.replace(IndexSpec(name, MODEL, 8), **spec_change))
    with pytest.raises(IndexNotFound):
        local_store.get_index(name)


# -- unknown indexes -----------------------------------------------------------------------


def test_unknown_index_is_not_found_everywhere(store: VectorStore, name: str) -> None:
    vector = np.ones(8, dtype=np.float32)
    calls = {
        "get_index": lambda: store.get_index(name),
        "delete_index": lambda: store.delete_index(name),
        "count": lambda: store.count(name),
        "get_metadata": lambda: store.get_metadata(name, "x"),
        "query": lambda: store.query(name, model=MODEL, vector=vector, k=3),
        "upsert": lambda: store.upsert(name, model=MODEL, ids=["a"], embeddings=vector[None, :]),
        "delete": lambda: store.delete(name, ["a"]),
    }
    for what, call in calls.items():
        with pytest.raises(IndexNotFound) as caught:
            call()
        assert isinstance(caught.value, KeyError), what
        assert name in str(caught.value), what
    assert name not in {i.name for i in store.list_indexes()}


# -- vectors -------------------------------------------------------------------------------


def test_upsert_and_query_nearest_first_with_round_trip(store: VectorStore, name: str) -> None:
    make_index(store, name, dimension=4)
    vectors = np.array([[1, 0, 0, 0], [0.9, 0.1, 0, 0], [0.5, 0.5, 0.5, 0], [0, 0, 0, 1]], dtype=np.float32)
    ids = ["w1", "w2", "w3", "w4"]
    metadatas = [
        {"role": "welder", "rate": 25.5, "years": 3, "active": True},
        {"role": "driver", "rate": 19.0, "years": 10, "active": False},
        {"role": "nurse", "rate": 41.25, "years": 1, "active": True},
        {"role": "cook", "rate": 15.0, "years": 7, "active": True},
    ]
    documents = ["welds things", "drives trucks", "cares for patients", "cooks food"]
    assert store.upsert(name, model=MODEL, ids=ids, embeddings=vectors, documents=documents, metadatas=metadatas) == 4
    assert store.count(name) == 4

    query = np.array([1, 0.05, 0, 0], dtype=np.float32)
    hits = store.query(name, model=MODEL, vector=query, k=3)
    assert [h.id for h in hits] == ["w1", "w2", "w3"]
    distances = [h.distance for h in hits]
    assert distances == sorted(distances)
    for hit in hits:
        position = ids.index(hit.id)
        assert hit.similarity == pytest.approx(1.0 - hit.distance)
        assert hit.similarity == pytest.approx(cosine(query, vectors[position]), abs=1e-5)
        assert hit.metadata == metadatas[position]
        assert hit.document == documents[position]

    everything = store.query(name, model=MODEL, vector=query, k=50)  # k above the count: all of them
    assert [h.id for h in everything] == ["w1", "w2", "w3", "w4"]


def test_upsert_replaces_vector_metadata_and_document(store: VectorStore, name: str) -> None:
    make_index(store, name, dimension=3)
    e = np.eye(3, dtype=np.float32)
    store.upsert(
        name,
        model=MODEL,
        ids=["a", "b"],
        embeddings=e[:2],
        documents=["old a", "b"],
        metadatas=[{"role": "welder", "city": "Austin", "rate": 20}, {"role": "cook"}],
    )
    store.upsert(name, model=MODEL, ids=["a"], embeddings=e[2:3], documents=["new a"], metadatas=[{"role": "driver"}])
    assert store.count(name) == 2
    top = store.query(name, model=MODEL, vector=e[2], k=1)[0]
    assert (top.id, top.document) == ("a", "new a")
    assert top.similarity == pytest.approx(1.0, abs=1e-5)
    assert top.metadata == {"role": "driver"}  # replaced, not merged: the old city and rate are gone
    assert store.get_metadata(name, "city") == {"a": None, "b": None}
    other = store.query(name, model=MODEL, vector=e[1], k=1)[0]
    assert (other.id, other.metadata, other.document) == ("b", {"role": "cook"}, "b")


def test_delete_ids(store: VectorStore, name: str) -> None:
    make_index(store, name)
    vectors = unit_rows(np.random.default_rng(1), 10, 8)
    ids = [f"v{i}" for i in range(10)]
    store.upsert(name, model=MODEL, ids=ids, embeddings=vectors, metadatas=[{"n": i} for i in range(10)])
    store.delete(name, ["v1", "v4", "v7"])
    store.delete(name, [])  # nothing to do
    assert store.count(name) == 7
    kept = {f"v{i}": i for i in range(10) if i not in (1, 4, 7)}
    assert store.get_metadata(name, "n") == kept
    found = {h.id for h in store.query(name, model=MODEL, vector=vectors[4], k=10)}
    assert found == set(kept)


def test_every_write_gives_the_index_a_new_revision_and_keeps_its_settings(store: VectorStore, name: str) -> None:
    """What lets a reader holding the vectors in memory (the search frames) see an in-place update,
    which leaves the index's size as it was."""
    make_index(store, name, dimension=3)
    e = np.eye(3, dtype=np.float32)
    empty = store.version(name)
    store.upsert(name, model=MODEL, ids=["a", "b"], embeddings=e[:2], documents=["a", "b"])
    written = store.version(name)
    assert empty[0] == 0 and written[0] == 2 and written[1] != empty[1]
    assert store.version(name) == written  # reading changes nothing
    store.upsert(name, model=MODEL, ids=["a"], embeddings=e[2:3], documents=["new a"])
    in_place = store.version(name)
    assert in_place[0] == 2 and in_place[1] != written[1]
    store.delete(name, ["b"])
    deleted = store.version(name)
    assert deleted[0] == 1 and deleted[1] != in_place[1]
    store.delete(name, [])
    assert store.version(name) == deleted  # nothing deleted, nothing changed
    info = store.get_index(name)  # the stamp leaves what the index records alone
    assert (info.model, info.dimension, info.count) == (MODEL, 3, 1)
    assert store.create_index(IndexSpec(name, MODEL, 3))[1] is False
    with pytest.raises(IndexConflict):
        store.upsert(name, model="other-model", ids=["c"], embeddings=e[:1])


def test_another_client_sees_the_new_revision(chroma_server_url: str, name: str) -> None:
    writer, reader = VectorStore.server(chroma_server_url), VectorStore.server(chroma_server_url)
    make_index(writer, name, dimension=3)
    writer.upsert(name, model=MODEL, ids=["a"], embeddings=np.eye(3, dtype=np.float32)[:1])
    before = reader.version(name)
    writer.upsert(name, model=MODEL, ids=["a"], embeddings=np.eye(3, dtype=np.float32)[1:2])
    after = reader.version(name)
    assert before[0] == after[0] == 1 and after[1] != before[1] and after == writer.version(name)


def _filter_rows() -> tuple[list[str], np.ndarray, list[dict[str, Any]]]:
    roles, states = ["welder", "driver", "nurse"], ["CA", "TX", "NY", "WA"]
    metadatas = [
        {"role": roles[i % 3], "state": states[i % 4], "hourly_rate": 15.0 + i * 0.5, "years": i % 11}
        for i in range(60)
    ]
    return [f"w{i}" for i in range(60)], unit_rows(np.random.default_rng(2), 60, 8), metadatas


@pytest.mark.parametrize(
    ("where", "keep"),
    [
        ({"role": "welder"}, lambda m: m["role"] == "welder"),
        ({"role": {"$eq": "nurse"}}, lambda m: m["role"] == "nurse"),
        ({"hourly_rate": {"$gte": 30.0}}, lambda m: m["hourly_rate"] >= 30.0),
        ({"years": {"$lte": 2}}, lambda m: m["years"] <= 2),
        ({"state": {"$in": ["CA", "NY"]}}, lambda m: m["state"] in ("CA", "NY")),
        (
            {"$and": [{"role": "driver"}, {"hourly_rate": {"$gte": 20.0}}, {"hourly_rate": {"$lte": 40.0}}]},
            lambda m: m["role"] == "driver" and 20.0 <= m["hourly_rate"] <= 40.0,
        ),
        (
            {"$and": [{"state": {"$in": ["TX", "WA"]}}, {"years": {"$gte": 5}}]},
            lambda m: m["state"] in ("TX", "WA") and m["years"] >= 5,
        ),
        ({"role": "dental hygienist"}, lambda m: False),
    ],
    ids=["equality", "eq-operator", "gte", "lte", "in", "and-range", "and-in", "no-match"],
)
def test_where_filters(store: VectorStore, name: str, where: dict[str, Any], keep: Any) -> None:
    ids, vectors, metadatas = _filter_rows()
    make_index(store, name)
    store.upsert(name, model=MODEL, ids=ids, embeddings=vectors, metadatas=metadatas)
    hits = store.query(name, model=MODEL, vector=vectors[0], k=60, where=where)
    expected = {id_ for id_, m in zip(ids, metadatas, strict=True) if keep(m)}
    assert {h.id for h in hits} == expected
    assert all(keep(h.metadata) for h in hits)
    assert [h.distance for h in hits] == sorted(h.distance for h in hits)


def test_other_model_or_dimension_conflicts_and_leaves_the_index_alone(store: VectorStore, name: str) -> None:
    make_index(store, name)
    vectors = unit_rows(np.random.default_rng(3), 5, 8)
    ids = [f"v{i}" for i in range(5)]
    store.upsert(name, model=MODEL, ids=ids, embeddings=vectors, metadatas=[{"n": i} for i in range(5)])
    before = store.get_index(name)

    with pytest.raises(IndexConflict, match=r"'test-model'.*'nomic-embed-text'"):
        store.upsert(name, model="nomic-embed-text", ids=["x"], embeddings=vectors[:1])
    with pytest.raises(IndexConflict, match=r"8-d.*16-d"):
        store.upsert(name, model=MODEL, ids=["x"], embeddings=np.ones((1, 16), dtype=np.float32))
    with pytest.raises(IndexConflict, match=r"'test-model'.*'nomic-embed-text'"):
        store.query(name, model="nomic-embed-text", vector=vectors[0], k=3)
    with pytest.raises(IndexConflict, match=r"8-d.*4-d"):
        store.query(name, model=MODEL, vector=np.ones(4, dtype=np.float32), k=3)

    assert store.get_index(name) == before
    assert store.get_metadata(name, "n") == {f"v{i}": i for i in range(5)}


def test_invalid_upserts_and_queries(store: VectorStore, name: str) -> None:
    make_index(store, name, dimension=4)
    v = np.ones((3, 4), dtype=np.float32)
    bad_upserts = {
        r"2 ids but 3 vectors": {"ids": ["a", "b"], "embeddings": v},
        r"3 ids but 2 vectors": {"ids": ["a", "b", "c"], "embeddings": v[:2]},
        r"3 ids but 2 documents": {"ids": ["a", "b", "c"], "embeddings": v, "documents": ["x", "y"]},
        r"3 ids but 4 metadatas": {"ids": ["a", "b", "c"], "embeddings": v, "metadatas": [{"n": 1}] * 4},
        r"unique": {"ids": ["a", "b", "a"], "embeddings": v},
        r"2-d array": {"ids": ["a"], "embeddings": np.ones(4, dtype=np.float32)},
    }
    for message, kwargs in bad_upserts.items():
        with pytest.raises(InvalidIndexRequest, match=message):
            store.upsert(name, model=MODEL, **kwargs)
    for k in (0, -1):
        with pytest.raises(InvalidIndexRequest, match="k must be at least 1"):
            store.query(name, model=MODEL, vector=v[0], k=k)
    assert store.count(name) == 0
    assert store.upsert(name, model=MODEL, ids=[], embeddings=np.zeros((0, 4), dtype=np.float32)) == 0


def test_get_metadata_pages_past_10000_vectors(store: VectorStore, name: str) -> None:
    n = 12_345
    make_index(store, name)
    vectors = np.random.default_rng(4).normal(size=(n, 8)).astype(np.float32)
    ids = [f"v{i}" for i in range(n)]
    store.upsert(name, model=MODEL, ids=ids, embeddings=vectors, metadatas=[{"n": i} for i in range(n)])
    assert store.count(name) == n
    got = store.get_metadata(name, "n")
    assert len(got) == n
    assert got == {f"v{i}": i for i in range(n)}
    assert set(store.get_metadata(name, "absent").values()) == {None}


def test_list_and_delete_indexes(store: VectorStore, name: str) -> None:
    names = [f"{name}-a", f"{name}-b"]
    store.create_index(IndexSpec(names[0], MODEL, 8))
    store.create_index(IndexSpec(names[1], "other-model", 16, hnsw={"ef_search": 50}))
    store.upsert(names[0], model=MODEL, ids=["x"], embeddings=np.ones((1, 8), dtype=np.float32))
    listed = [i for i in store.list_indexes() if i.name in names]
    assert [(i.name, i.model, i.dimension, i.count, i.hnsw["ef_search"]) for i in listed] == [
        (names[0], MODEL, 8, 1, 100),
        (names[1], "other-model", 16, 0, 50),
    ]
    all_names = [i.name for i in store.list_indexes()]
    assert all_names == sorted(all_names)

    store.delete_index(names[0])
    assert [i.name for i in store.list_indexes() if i.name in names] == [names[1]]
    with pytest.raises(IndexNotFound):
        store.get_index(names[0])
    with pytest.raises(IndexNotFound):
        store.delete_index(names[0])
    info, created = store.create_index(IndexSpec(names[0], "third-model", 4))  # the name is free again
    assert (created, info.model, info.count) == (True, "third-model", 0)


class _CountingCollection:
    """Wraps a Chroma collection and records the size of every upsert call."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.upserts: list[int] = []

    def upsert(self, **kwargs: Any) -> Any:
        self.upserts.append(len(kwargs["ids"]))
        return self.inner.upsert(**kwargs)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.inner, attribute)


def test_upsert_in_batches_stores_everything(store: VectorStore, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    make_index(store, name)
    n = 100
    vectors = unit_rows(np.random.default_rng(5), n, 8)
    ids = [f"v{i}" for i in range(n)]
    checked = store._checked
    spies: list[_CountingCollection] = []

    def counting(*args: Any, **kwargs: Any) -> _CountingCollection:
        spies.append(_CountingCollection(checked(*args, **kwargs)))
        return spies[-1]

    monkeypatch.setattr(store, "_checked", counting)
    stored = store.upsert(
        name,
        model=MODEL,
        ids=ids,
        embeddings=vectors,
        documents=[f"doc {i}" for i in range(n)],
        metadatas=[{"n": i} for i in range(n)],
        batch_size=7,
    )
    assert stored == n
    assert [size for spy in spies for size in spy.upserts] == [7] * 14 + [2]
    assert store.count(name) == n
    assert store.get_metadata(name, "n") == {f"v{i}": i for i in range(n)}
    for i in (0, 6, 7, 50, 98, 99):  # first, batch edges and last
        hit = store.query(name, model=MODEL, vector=vectors[i], k=1)[0]
        assert (hit.id, hit.document) == (f"v{i}", f"doc {i}")


def test_recall_at_10_against_exact_cosine(store: VectorStore, name: str) -> None:
    rng = np.random.default_rng(6)
    data = unit_rows(rng, 2_000, 64)
    queries = unit_rows(rng, 20, 64)
    make_index(store, name, dimension=64)
    store.upsert(name, model=MODEL, ids=[str(i) for i in range(len(data))], embeddings=data)
    exact = np.argsort(-(queries @ data.T), axis=1)[:, :10]
    found = 0
    for query, truth in zip(queries, exact, strict=True):
        hits = store.query(name, model=MODEL, vector=query, k=10)
        found += len({int(h.id) for h in hits} & set(truth.tolist()))
    recall = found / (10 * len(queries))
    assert recall >= 0.95, f"recall@10 {recall:.3f}"


# -- the server: two writers, bad URLs -----------------------------------------------------

WRITER_DIM = 16
WRITER_ROWS = 2_000


def _writer_rows(prefix: str, seed: int) -> tuple[list[str], np.ndarray]:
    vectors = unit_rows(np.random.default_rng(seed), WRITER_ROWS, WRITER_DIM)
    return [f"{prefix}-{i}" for i in range(WRITER_ROWS)], vectors


def _write_from_another_process(url: str, index: str, prefix: str, seed: int, start: Any) -> None:
    """Runs in a spawned process: its own client, the same index, 2,000 ids of its own in batches."""
    store = VectorStore.server(url)
    ids, vectors = _writer_rows(prefix, seed)
    start.wait(timeout=120)  # both processes create the index and write at the same time
    store.ensure_index(IndexSpec(index, MODEL, WRITER_DIM))
    store.upsert(
        index,
        model=MODEL,
        ids=ids,
        embeddings=vectors,
        metadatas=[{"writer": prefix, "n": i} for i in range(WRITER_ROWS)],
        batch_size=250,
    )


def test_two_processes_write_one_index_through_the_server(chroma_server_url: str, name: str) -> None:
    context = mp.get_context("spawn")
    start = context.Barrier(2)
    writers = {"alpha": 11, "beta": 22}
    processes = [
        context.Process(target=_write_from_another_process, args=(chroma_server_url, name, prefix, seed, start))
        for prefix, seed in writers.items()
    ]
    for process in processes:
        process.start()
    try:
        for process in processes:
            process.join(timeout=120)
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join()
    assert [p.exitcode for p in processes] == [0, 0]

    store = VectorStore.server(chroma_server_url)
    assert store.count(name) == 2 * WRITER_ROWS
    writer_of = store.get_metadata(name, "writer")
    assert len(writer_of) == 2 * WRITER_ROWS
    for prefix, seed in writers.items():
        ids, vectors = _writer_rows(prefix, seed)
        assert all(writer_of[id_] == prefix for id_ in ids)
        for i in np.random.default_rng(seed).choice(WRITER_ROWS, size=15, replace=False):
            hit = store.query(name, model=MODEL, vector=vectors[i], k=1)[0]
            assert hit.id == ids[i]
            assert hit.similarity == pytest.approx(1.0, abs=1e-4)
            assert hit.metadata == {"writer": prefix, "n": int(i)}


@pytest.mark.parametrize("url", ["localhost:8000", "http://:8000", "not a url", ""])
def test_server_url_without_a_host(url: str) -> None:
    with pytest.raises(VectorStoreError, match="has no host") as caught:
        VectorStore.server(url)
    assert repr(url) in str(caught.value)


def test_unreachable_server_names_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(VectorStoreError, match="unreachable") as caught:
        VectorStore.server(url)
    assert url in str(caught.value)


# -- the Dagster resource ------------------------------------------------------------------


def test_resource_from_settings(settings: LakehouseSettings) -> None:
    from lakehouse_assets.resources import VectorStoreResource

    resource = VectorStoreResource.from_settings(settings)
    assert resource.chroma_url is None
    assert Path(resource.path) == settings.chroma_path
    assert resource.hnsw() == settings.hnsw
    tuned = settings.model_copy(update={"chroma_url": "http://chroma:8000", "hnsw_ef_search": 300})
    served = VectorStoreResource.from_settings(tuned)
    assert served.chroma_url == "http://chroma:8000"
    assert served.hnsw()["ef_search"] == 300


def test_resource_get_is_one_store_per_configuration_and_one_client_per_folder(tmp_path: Path, name: str) -> None:
    from lakehouse_assets.resources import VectorStoreResource

    folder = tmp_path / "chroma"
    resource = VectorStoreResource(path=str(folder), hnsw_ef_search=64)
    store = resource.get()
    assert resource.get() is store
    assert VectorStoreResource(path=str(tmp_path / "." / "chroma"), hnsw_ef_search=64).get() is store
    other = VectorStoreResource(path=str(folder), hnsw_ef_search=80).get()
    assert other is not store
    assert other.client is store.client  # one PersistentClient per folder in this process
    assert store.create_index(IndexSpec(name, MODEL, 8))[0].hnsw["ef_search"] == 64
    assert other.get_index(name).model == MODEL  # both see the same folder
    assert VectorStoreResource(path=str(tmp_path / "elsewhere")).get().client is not store.client


def test_resource_with_a_server(chroma_server_url: str, name: str) -> None:
    from lakehouse_assets.resources import VectorStoreResource

    resource = VectorStoreResource(chroma_url=chroma_server_url, path="/nonexistent/never-used")
    store = resource.get()
    assert resource.get() is store
    assert VectorStoreResource(chroma_url=chroma_server_url + "/").get().client is store.client
    info, created = store.create_index(IndexSpec(name, MODEL, 8))
    assert created and info.hnsw == {"space": "cosine", **resource.hnsw()}
    assert not Path("/nonexistent/never-used").exists()
    with pytest.raises(VectorStoreError, match="unreachable"):
        VectorStoreResource(chroma_url=f"http://127.0.0.1:{free_port()}").get()


def test_a_reused_handle_follows_an_index_dropped_and_recreated_elsewhere(tmp_path):
    """The query path reuses collection handles; another writer replacing the index must not leave
    this store querying (or mis-checking) the old one."""
    from lakehouse_assets.core.vectors.store import VectorStore
    from lakehouse_assets.core.vectors.types import IndexSpec

    reader, writer = VectorStore.local(tmp_path / "c"), VectorStore.local(tmp_path / "c")
    reader.create_index(IndexSpec("shared", "m", 4))
    reader.upsert("shared", model="m", ids=["a"], embeddings=np.eye(4, dtype=np.float32)[:1])
    assert [h.id for h in reader.query("shared", model="m", vector=np.eye(4)[0], k=1)] == ["a"]
    writer.delete_index("shared")
    writer.create_index(IndexSpec("shared", "m", 4))
    writer.upsert("shared", model="m", ids=["b"], embeddings=np.eye(4, dtype=np.float32)[1:2])
    assert [h.id for h in reader.query("shared", model="m", vector=np.eye(4)[1], k=1)] == ["b"]


def test_chroma_internal_errors_on_reads_are_retried_then_named(tmp_path: Path, monkeypatch) -> None:
    """A reader can catch a segment that is not on disk yet while the index is written; the same read a
    moment later succeeds. One that keeps failing is IndexUnavailable (a 503 with Retry-After), not a 500."""
    from chromadb.errors import InternalError

    from lakehouse_assets.core.vectors import retry as retry_module
    from lakehouse_assets.core.vectors.exceptions import IndexUnavailable

    monkeypatch.setattr(retry_module, "READ_BACKOFF_SECONDS", 0.001)
    store = VectorStore.local(tmp_path / "chroma")
    store.ensure_index(IndexSpec("flaky", "m", 2))
    store.upsert("flaky", model="m", ids=["a", "b"], embeddings=np.eye(2, dtype=np.float32))
    collection = store._hot_collection("flaky")
    real, calls = collection.query, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) <= 2:
            raise InternalError("Error creating hnsw segment reader: Nothing found on disk")
        return real(*args, **kwargs)

    monkeypatch.setattr(collection, "query", flaky)
    assert [h.id for h in store.query("flaky", model="m", vector=np.array([1.0, 0.0]), k=1)] == ["a"]
    assert len(calls) == 3
    monkeypatch.setattr(collection, "query", lambda *a, **k: (_ for _ in ()).throw(InternalError("still not")))
    with pytest.raises(IndexUnavailable, match="'flaky' could not be read just now"):
        store.query("flaky", model="m", vector=np.array([1.0, 0.0]), k=1)


def test_a_query_restricted_to_ids_the_index_lacks_answers_from_those_it_holds(tmp_path: Path) -> None:
    """Chroma fails a whole id-restricted query ("Error finding id") when one id is not indexed yet."""
    store = VectorStore.local(tmp_path / "chroma")
    store.ensure_index(IndexSpec("partial", "m", 2))
    store.upsert("partial", model="m", ids=["a", "b"], embeddings=np.eye(2, dtype=np.float32))
    hits = store.query("partial", model="m", vector=np.array([0.0, 1.0]), k=5, ids=["b", "not-yet", "a"])
    assert [h.id for h in hits] == ["b", "a"]
    assert store.query("partial", model="m", vector=np.array([0.0, 1.0]), k=5, ids=["not-yet"]) == []
