"""The vector API over HTTP: /v1/embed and /v1/vectors/... statuses, errors that name the problem, filters.

Most tests swap the server's embedder for an 8-d hashing fake (milliseconds, deterministic); one test runs
the real local model end to end.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.deps import get_embedder
from api.main import create_app
from api.settings import ApiSettings
from lakehouse_assets.core.vectors.embedder import LOCAL_DIMENSION, ONNX_MODEL, CachedEmbedder, Embedder, check_texts
from lakehouse_assets.core.vectors.types import IndexSpec

FAKE_MODEL = "test-hashing-8"


class HashingEmbedder(Embedder):
    """Each word adds 1 to one of 8 buckets (by SHA-256); rows are L2-normalized. Same text, same vector."""

    model = FAKE_MODEL
    dimension = 8

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        check_texts(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in zip(out, texts, strict=True):
            for word in text.lower().split():
                row[int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "big") % self.dimension] += 1
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def _settings(tmp_path: Path) -> ApiSettings:
    return ApiSettings(home=tmp_path / "lake", report_to_dagster=False, warm_embedder=False, _env_file=None)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(_settings(tmp_path))
    fake = CachedEmbedder(HashingEmbedder())
    app.dependency_overrides[get_embedder] = lambda: fake
    with TestClient(app) as c:
        yield c


def assert_error(response: Any, status: int, code: str, *words: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code, body
    for w in words:
        assert w in body["message"], (w, body["message"])
    return body


def unit(*values: float) -> list[float]:
    v = np.asarray(values, dtype=np.float64)
    return (v / np.linalg.norm(v)).tolist()


def axis(i: int, dim: int = 8) -> list[float]:
    return [1.0 if j == i else 0.0 for j in range(dim)]


def create(client: TestClient, name: str, **body: Any) -> Any:
    return client.post(f"/v1/vectors/{name}", json=body or None)


def add(client: TestClient, name: str, *items: dict[str, Any]) -> Any:
    return client.post(f"/v1/vectors/{name}/add", json={"items": list(items)})


def search(client: TestClient, name: str, **body: Any) -> Any:
    return client.post(f"/v1/vectors/{name}/search", json=body)


# -- /v1/embed --------------------------------------------------------------------------------


def test_embed_returns_normalized_vectors_and_cache_counters(client: TestClient) -> None:
    first = client.post("/v1/embed", json={"texts": ["forklift operator", "registered nurse"]})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["model"] == FAKE_MODEL and body["dimension"] == 8
    vectors = np.asarray(body["vectors"])
    assert vectors.shape == (2, 8)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert body["cache"] == {"hits": 0, "misses": 2}
    again = client.post("/v1/embed", json={"texts": ["registered nurse"]}).json()
    assert again["cache"] == {"hits": 1, "misses": 2}
    assert np.allclose(again["vectors"][0], vectors[1])


def test_embed_empty_text_is_400_naming_its_position(client: TestClient) -> None:
    r = client.post("/v1/embed", json={"texts": ["fine", "   "]})
    assert_error(r, 400, "empty_text", "text 1 is empty")


def test_embed_needs_1_to_256_texts(client: TestClient) -> None:
    assert_error(client.post("/v1/embed", json={"texts": ["x"] * 257}), 400, "invalid_request", "texts", "256")
    assert_error(client.post("/v1/embed", json={"texts": []}), 400, "invalid_request", "texts")
    assert client.post("/v1/embed", json={"texts": ["x"] * 256}).status_code == 200


# -- create, list, delete ---------------------------------------------------------------------


def test_create_is_201_then_200_for_the_same_settings_and_409_for_others(client: TestClient) -> None:
    r = create(client, "people")
    assert r.status_code == 201, r.text
    info = r.json()
    assert info["name"] == "people" and info["model"] == FAKE_MODEL and info["dimension"] == 8 and info["count"] == 0
    assert info["hnsw"]["space"] == "cosine"

    same = create(client, "people", model=FAKE_MODEL, dimension=8)
    assert same.status_code == 200 and same.json() == info

    assert_error(create(client, "people", dimension=16), 409, "index_conflict", "people", "dimension 8 != 16")
    assert_error(create(client, "people", model="other", dimension=8), 409, "index_conflict", "'other'")
    assert_error(create(client, "people", hnsw={"ef_search": 7}), 409, "index_conflict", "ef_search")


def test_create_with_custom_hnsw_and_another_model(client: TestClient) -> None:
    r = create(client, "tuned", hnsw={"ef_search": 50, "max_neighbors": 16})
    assert r.status_code == 201 and r.json()["hnsw"]["ef_search"] == 50 and r.json()["hnsw"]["max_neighbors"] == 16
    assert create(client, "tuned", hnsw={"ef_search": 50, "max_neighbors": 16}).status_code == 200

    assert_error(create(client, "foreign", model="other-model"), 400, "invalid_request", "dimension", "other-model")
    r = create(client, "foreign", model="other-model", dimension=3)
    assert r.status_code == 201 and r.json()["dimension"] == 3
    assert_error(create(client, "foreign2", hnsw={"ef_serch": 5}), 400, "invalid_request", "ef_serch")


def test_invalid_index_name_is_400_naming_it(client: TestClient) -> None:
    assert_error(create(client, "Bad-Name"), 400, "invalid_request", "'Bad-Name'")
    assert_error(create(client, "ab"), 400, "invalid_request", "'ab'")
    assert_error(search(client, "-x-", text="hello"), 400, "invalid_request", "'-x-'")
    # names our old rule took and Chroma refuses (they were a 500)
    assert_error(create(client, "a..b"), 400, "invalid_request", "two periods")
    assert_error(create(client, "192.168.1.1"), 400, "invalid_request", "IPv4")
    assert create(client, "v1.2.index").status_code == 201


def test_reserved_metadata_keys_are_400_and_nothing_is_written(client: TestClient) -> None:
    """Before: `chroma:document` was a 500 from Chroma and `_` (this store's stand-in for empty metadata) was
    silently dropped."""
    assert create(client, "meta").status_code == 201
    for key in ("chroma:document", "_", "$and"):
        r = add(client, "meta", {"id": "1", "vector": axis(0), "metadata": {key: "x"}})
        assert_error(r, 400, "invalid_request", repr(key))
    assert client.app.state.services.vectors.count("meta") == 0


def test_list_shows_every_index_with_its_count(client: TestClient) -> None:
    create(client, "beta")
    create(client, "alpha", model="other", dimension=3)
    add(client, "beta", {"id": "1", "text": "hello world"})
    r = client.get("/v1/vectors")
    assert r.status_code == 200
    indexes = r.json()["indexes"]
    assert [(i["name"], i["model"], i["dimension"], i["count"]) for i in indexes] == [
        ("alpha", "other", 3, 0),
        ("beta", FAKE_MODEL, 8, 1),
    ]
    assert all(i["hnsw"]["space"] == "cosine" for i in indexes)


def test_delete_is_204_then_404(client: TestClient) -> None:
    create(client, "gone")
    r = client.delete("/v1/vectors/gone")
    assert r.status_code == 204 and r.content == b""
    assert client.get("/v1/vectors").json()["indexes"] == []
    assert_error(client.delete("/v1/vectors/gone"), 404, "not_found", "'gone'")


def test_unknown_index_is_404_on_add_search_and_delete(client: TestClient) -> None:
    assert_error(add(client, "nowhere", {"id": "1", "vector": axis(0)}), 404, "not_found", "'nowhere'")
    assert_error(search(client, "nowhere", vector=axis(0)), 404, "not_found", "'nowhere'")
    assert_error(search(client, "nowhere", text="hello"), 404, "not_found", "'nowhere'")
    assert_error(search(client, "nowhere", vector=axis(0), filter={"a": 1}), 404, "not_found", "'nowhere'")
    assert_error(client.delete("/v1/vectors/nowhere"), 404, "not_found", "'nowhere'")


# -- add and search ---------------------------------------------------------------------------


def test_add_by_text_and_by_vector_then_search_by_text_and_by_vector(client: TestClient) -> None:
    create(client, "people")
    r = add(
        client,
        "people",
        {"id": "t1", "text": "forklift operator night shift", "metadata": {"role": "forklift", "rate": 19.5}},
        {"id": "t2", "text": "registered nurse day shift", "metadata": {"role": "nurse", "active": True}},
        {"id": "v1", "vector": axis(3), "document": "raw vector three", "metadata": {"years": 4}},
        {"id": "v2", "vector": unit(1, 1, 0, 0, 0, 0, 0, 0)},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"index": "people", "added": 4, "count": 4}

    by_text = search(client, "people", text="registered nurse day shift", k=2)
    assert by_text.status_code == 200, by_text.text
    body = by_text.json()
    assert body["index"] == "people" and body["elapsed_ms"] >= 0 and len(body["hits"]) == 2
    top = body["hits"][0]
    assert top["id"] == "t2" and top["document"] == "registered nurse day shift"  # the document defaults to the text
    assert top["metadata"] == {"role": "nurse", "active": True}
    assert top["score"] == pytest.approx(1.0, abs=1e-4) and top["distance"] == pytest.approx(0.0, abs=1e-4)

    hits = search(client, "people", vector=axis(3), k=10).json()["hits"]
    assert len(hits) == 4
    assert hits[0]["id"] == "v1" and hits[0]["document"] == "raw vector three" and hits[0]["metadata"] == {"years": 4}
    assert hits[0]["score"] == pytest.approx(1.0, abs=1e-4)
    for h in hits:
        assert h["score"] == pytest.approx(1 - h["distance"], abs=1e-6)
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    no_meta = next(h for h in hits if h["id"] == "v2")
    assert no_meta["metadata"] == {} and no_meta["document"] is None


def test_add_replaces_vectors_by_id(client: TestClient) -> None:
    create(client, "people")
    add(client, "people", {"id": "a", "vector": axis(0), "metadata": {"v": 1}})
    r = add(client, "people", {"id": "a", "vector": axis(5), "metadata": {"v": 2}})
    assert r.json() == {"index": "people", "added": 1, "count": 1}
    top = search(client, "people", vector=axis(5), k=1).json()["hits"][0]
    assert top["id"] == "a" and top["metadata"] == {"v": 2} and top["score"] == pytest.approx(1.0, abs=1e-4)


def test_wrong_dimension_is_409_naming_both(client: TestClient) -> None:
    create(client, "people")
    r = add(client, "people", {"id": "ok", "vector": axis(0)}, {"id": "short", "vector": [1.0, 0.0, 0.0]})
    assert_error(r, 409, "index_conflict", "8-d", "3-d", "'short'")
    assert client.get("/v1/vectors").json()["indexes"][0]["count"] == 0  # nothing was written
    assert_error(search(client, "people", vector=[1.0, 0.0, 0.0]), 409, "index_conflict", "8-d", "3-d")


def test_text_into_an_index_of_another_model_is_409_naming_both(client: TestClient) -> None:
    create(client, "foreign", model="other-model", dimension=8)
    r = add(client, "foreign", {"id": "1", "text": "hello there"})
    assert_error(r, 409, "index_conflict", "'other-model'", FAKE_MODEL)
    assert_error(search(client, "foreign", text="hello there"), 409, "index_conflict", "'other-model'", FAKE_MODEL)
    # Raw vectors of the right dimension are fine in it.
    assert add(client, "foreign", {"id": "1", "vector": axis(1)}).json()["count"] == 1
    assert search(client, "foreign", vector=axis(1)).json()["hits"][0]["id"] == "1"


def test_item_with_both_or_neither_text_and_vector_is_400_naming_it(client: TestClient) -> None:
    create(client, "people")
    both = add(client, "people", {"id": "fine", "text": "ok"}, {"id": "twice", "text": "x", "vector": axis(0)})
    assert_error(both, 400, "invalid_request", "items.1", "'twice'", "both")
    neither = add(client, "people", {"id": "empty", "metadata": {"a": 1}})
    assert_error(neither, 400, "invalid_request", "items.0", "'empty'", "neither")
    blank = add(client, "people", {"id": "ok", "vector": axis(0)}, {"id": "blank", "text": "  "})
    assert_error(blank, 400, "invalid_request", "items.1.text", "empty")
    assert_error(add(client, "people"), 400, "invalid_request", "items")
    duplicate = add(client, "people", {"id": "d", "vector": axis(0)}, {"id": "d", "vector": axis(1)})
    assert_error(duplicate, 400, "invalid_request", "unique")


def test_search_needs_exactly_one_query_and_a_nonempty_text(client: TestClient) -> None:
    create(client, "people")
    assert_error(search(client, "people", text="   "), 400, "invalid_request", "text", "empty")
    assert_error(search(client, "people", text=""), 400, "invalid_request", "text", "empty")
    assert_error(search(client, "people"), 400, "invalid_request", "exactly one of text or vector")
    assert_error(search(client, "people", text="a", vector=axis(0)), 400, "invalid_request", "exactly one")


def test_k_out_of_range_is_400(client: TestClient) -> None:
    create(client, "people")
    add(client, "people", {"id": "1", "vector": axis(0)})
    assert_error(search(client, "people", vector=axis(0), k=0), 400, "invalid_request", "k")
    assert_error(search(client, "people", vector=axis(0), k=201), 400, "invalid_request", "k", "200")
    assert [h["id"] for h in search(client, "people", vector=axis(0), k=200).json()["hits"]] == ["1"]
    assert [h["id"] for h in search(client, "people", vector=axis(0), k=1).json()["hits"]] == ["1"]


def test_search_of_an_empty_index_returns_no_hits(client: TestClient) -> None:
    create(client, "people")
    r = search(client, "people", text="anyone")
    assert r.status_code == 200 and r.json()["hits"] == []


# -- filters ----------------------------------------------------------------------------------

WORKERS = [
    {"id": "w1", "vector": unit(1, 0.1, 0, 0, 0, 0, 0, 0), "metadata": {"city": "Chicago", "rate": 18, "nights": True}},
    {"id": "w2", "vector": unit(1, 0.2, 0, 0, 0, 0, 0, 0), "metadata": {"city": "Denver", "rate": 25, "nights": False}},
    {"id": "w3", "vector": unit(1, 0.3, 0, 0, 0, 0, 0, 0), "metadata": {"city": "Austin", "rate": 31.5}},
    {"id": "w4", "vector": unit(1, 0.4, 0, 0, 0, 0, 0, 0), "metadata": {"city": "Chicago", "rate": 40}},
]


def ids(client: TestClient, flt: dict[str, Any], name: str = "workers") -> list[str]:
    r = search(client, name, vector=axis(0), k=10, filter=flt)
    assert r.status_code == 200, r.text
    return [h["id"] for h in r.json()["hits"]]


def test_filter_equality_range_and_in(client: TestClient) -> None:
    create(client, "workers")
    add(client, "workers", *WORKERS)
    assert ids(client, {}) == ["w1", "w2", "w3", "w4"]
    assert ids(client, {"city": "Chicago"}) == ["w1", "w4"]
    assert ids(client, {"nights": True}) == ["w1"]
    assert ids(client, {"rate": {"gte": 25}}) == ["w2", "w3", "w4"]
    assert ids(client, {"rate": {"gt": 18, "lt": 40}}) == ["w2", "w3"]
    assert ids(client, {"rate": {"lte": 31.5}}) == ["w1", "w2", "w3"]
    assert ids(client, {"city": {"in": ["Denver", "Austin"]}}) == ["w2", "w3"]
    assert ids(client, {"city": {"nin": ["Chicago"]}}) == ["w2", "w3"]
    assert ids(client, {"city": {"ne": "Chicago"}, "rate": {"lt": 30}}) == ["w2"]
    assert ids(client, {"city": {"eq": "Chicago"}, "rate": {"gt": 100}}) == []


def test_filter_on_unknown_field_or_with_bad_operands_is_400_naming_it(client: TestClient) -> None:
    create(client, "workers")
    add(client, "workers", *WORKERS)
    body = assert_error(
        search(client, "workers", vector=axis(0), filter={"salary": {"gte": 10}}),
        400,
        "invalid_search",
        "'salary'",
        "index 'workers'",
    )
    assert "city" in body["message"] and "rate" in body["message"]  # the known fields are listed
    bad = [
        ({"rate": {"between": [1, 2]}}, "'between'"),
        ({"rate": {"gte": "ten"}}, "gte needs a number"),
        ({"city": {"in": []}}, "non-empty list"),
        ({"city": {"in": ["Chicago", 3]}}, "one type"),
        ({"city": {"eq": ["Chicago"]}}, "'city'"),
        ({"city": None}, "'city'"),
        ({"city": {}}, "empty object"),
    ]
    for flt, words in bad:
        assert_error(search(client, "workers", vector=axis(0), filter=flt), 400, "invalid_search", words)


def test_filter_fields_follow_adds_and_deletes(client: TestClient) -> None:
    create(client, "workers")
    add(client, "workers", {"id": "1", "vector": axis(0), "metadata": {"a": 1}})
    assert ids(client, {"a": 1}) == ["1"]
    assert_error(search(client, "workers", vector=axis(0), filter={"b": 1}), 400, "invalid_search", "'b'")
    add(client, "workers", {"id": "2", "vector": axis(1), "metadata": {"b": 1}})
    assert ids(client, {"b": 1}) == ["2"]

    client.delete("/v1/vectors/workers")
    create(client, "workers")
    add(client, "workers", {"id": "3", "vector": axis(0), "metadata": {"c": 1}})
    assert_error(search(client, "workers", vector=axis(0), filter={"a": 1}), 400, "invalid_search", "'a'")
    assert ids(client, {"c": 1}) == ["3"]


def test_filter_sees_fields_another_writer_added(client: TestClient) -> None:
    create(client, "workers")
    add(client, "workers", {"id": "1", "vector": axis(0), "metadata": {"a": 1}})
    assert ids(client, {"a": 1}) == ["1"]  # the index's fields are now cached
    store = client.app.state.services.vectors
    # Written behind the API's back, as the corpus_embeddings asset (another process) would.
    store.client.get_collection("workers").upsert(ids=["2"], embeddings=[axis(1)], metadatas=[{"late": "yes"}])
    assert ids(client, {"late": "yes"}) == ["2"]


# -- corpus_* indexes -------------------------------------------------------------------------


def test_corpus_indexes_are_managed_by_their_asset(client: TestClient) -> None:
    # before: a caller could pre-create corpus_workers with a model of its choosing
    assert_error(create(client, "corpus_workers", model="other", dimension=8), 409, "index_conflict", "corpus_")
    store = client.app.state.services.vectors
    assert store.list_indexes() == []
    store.create_index(IndexSpec("corpus_workers", FAKE_MODEL, 8, {}))  # what the asset does
    assert_error(create(client, "corpus_workers"), 409, "index_conflict", "corpus_embeddings")
    store.upsert(
        "corpus_workers", model=FAKE_MODEL, ids=["worker-1"], embeddings=np.asarray([axis(2)]), metadatas=[{"x": 1}]
    )
    assert_error(
        add(client, "corpus_workers", {"id": "2", "vector": axis(0)}), 409, "index_conflict", "corpus_embeddings"
    )
    assert_error(client.delete("/v1/vectors/corpus_workers"), 409, "index_conflict", "corpus_embeddings")
    r = search(client, "corpus_workers", vector=axis(2), filter={"x": 1})
    assert r.status_code == 200 and [h["id"] for h in r.json()["hits"]] == ["worker-1"]
    assert store.count("corpus_workers") == 1


# -- OpenAPI ----------------------------------------------------------------------------------


def test_openapi_lists_the_vector_routes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    expected = {
        "/v1/embed": {"post"},
        "/v1/vectors": {"get"},
        "/v1/vectors/{index}": {"post", "delete"},
        "/v1/vectors/{index}/add": {"post"},
        "/v1/vectors/{index}/search": {"post"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
        for m in methods:
            op = paths[path][m]
            assert op["tags"] == ["vectors"] and op["description"], (path, m)
    create_op = paths["/v1/vectors/{index}"]["post"]["responses"]
    assert {"200", "201", "400", "409"} <= set(create_op)
    assert {"400", "404", "409"} <= set(paths["/v1/vectors/{index}/search"]["post"]["responses"])
    assert "204" in paths["/v1/vectors/{index}"]["delete"]["responses"]


# -- the real model ---------------------------------------------------------------------------


def test_real_default_model_end_to_end(tmp_path: Path) -> None:
    """all-MiniLM-L6-v2 from its wheel, as the default int8 export: a paraphrase finds the document it paraphrases."""
    with TestClient(create_app(_settings(tmp_path))) as client:
        texts = [
            "Forklift operator moving pallets and loading trucks in a warehouse",
            "Registered nurse caring for patients on a hospital ward",
        ]
        embedded = client.post("/v1/embed", json={"texts": texts})
        assert embedded.status_code == 200, embedded.text
        body = embedded.json()
        assert body["model"] == ONNX_MODEL and body["dimension"] == LOCAL_DIMENSION
        assert np.asarray(body["vectors"]).shape == (2, LOCAL_DIMENSION)

        info = create(client, "staff").json()
        assert info["model"] == ONNX_MODEL and info["dimension"] == LOCAL_DIMENSION
        r = add(client, "staff", {"id": "forklift", "text": texts[0]}, {"id": "nurse", "text": texts[1]})
        assert r.json() == {"index": "staff", "added": 2, "count": 2}

        for query, expected in [
            ("someone to drive a lift truck and stack goods in a distribution center", "forklift"),
            ("medical professional who looks after sick people in a clinic", "nurse"),
        ]:
            hits = search(client, "staff", text=query, k=2).json()["hits"]
            assert hits[0]["id"] == expected, (query, hits)
            assert hits[0]["score"] > hits[1]["score"]
