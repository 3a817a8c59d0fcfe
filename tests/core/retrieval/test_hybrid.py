"""search_frame serves the hits it ranks in memory from memory: the same ids, order, similarity, text and
metadata as reading them back from the index, without the round trip to Chroma."""

from __future__ import annotations

import dataclasses

import duckdb
import numpy as np
import pytest

from lakehouse_assets.core.retrieval.corpora import WORKERS
from lakehouse_assets.core.retrieval.facet_frame import FacetFrame, build_frame, read_vectors
from lakehouse_assets.core.retrieval.hybrid import FrameResult, search_frame
from lakehouse_assets.core.retrieval.query_parse import parse_query
from lakehouse_assets.core.sample.generate import generate_workers
from lakehouse_assets.core.vectors.indexing import sync_index
from lakehouse_assets.core.vectors.store import VectorStore
from tests.core.retrieval.test_search import WordEmbedder

INDEX = "workers-hybrid-test"
QUERIES = [
    "forklift operator with forklift certification in Illinois",
    "welder in Ohio with at least 10 years, not on nights",
    "material handler day shift",
    "electrician under $30 an hour",
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[VectorStore, FacetFrame]:
    conn = duckdb.connect()
    conn.register("workers", generate_workers(1500))
    store = VectorStore.local(tmp_path_factory.mktemp("hybrid") / "chroma")
    documents = conn.sql(WORKERS.sql).to_arrow_table()
    sync_index(INDEX, documents, WORKERS.metadata, embedder=WordEmbedder(), store=store)
    frame = build_frame(conn, WORKERS.sql, WORKERS.facet_sql, WORKERS.facets, "v1", WORKERS.metadata)
    frame.dense = read_vectors(store, INDEX, frame.ids, store.count(INDEX))
    return store, frame


def search(store: VectorStore, frame: FacetFrame, query: str, **kw) -> FrameResult:
    parsed = parse_query(query, frame.vocab)
    vector = WordEmbedder().embed_one(parsed.semantic or query)
    return search_frame(
        store, INDEX, WordEmbedder.model, frame, parsed.constraints, vector, text=parsed.semantic or query,
        k=10, fetch=20, **kw,
    )  # fmt: skip


def served(result: FrameResult) -> list[tuple]:
    return [(r.hit.id, r.hit.metadata, r.hit.document, r.meets, r.violates) for r in result.ranked]


@pytest.mark.parametrize("mode", [{}, {"keyword": False}, {"keyword_only": True}])
@pytest.mark.parametrize("query", QUERIES)
def test_hits_served_from_memory_are_the_ones_the_index_returns(corpus, monkeypatch, query: str, mode: dict):
    store, frame = corpus
    from_index = search(store, dataclasses.replace(frame, documents=None), query, **mode)

    def no_round_trip(*args, **kwargs):
        raise AssertionError("a hit was read back from Chroma")

    monkeypatch.setattr(store, "fetch", no_round_trip)
    from_memory = search(store, frame, query, **mode)
    assert from_memory.ranked, query
    assert served(from_memory) == served(from_index)
    assert from_memory.keyword == from_index.keyword
    assert (from_memory.admitted, from_memory.strategy) == (from_index.admitted, from_index.strategy)
    np.testing.assert_allclose(
        [r.hit.distance for r in from_memory.ranked], [r.hit.distance for r in from_index.ranked], atol=1e-5
    )
    assert all(set(r.hit.metadata) >= {"entity_id", "content_hash", "role", "state"} for r in from_memory.ranked)


def test_a_where_clause_only_chroma_can_check_reads_the_winners_from_the_index(corpus):
    store, frame = corpus
    result = search(store, frame, "welder in Ohio", where={"availability": "available"})
    assert result.ranked and all(r.hit.metadata["availability"] == "available" for r in result.ranked)
    everyone = search(store, frame, "welder in Ohio")
    assert {r.hit.metadata["availability"] for r in everyone.ranked} != {"available"}


def test_a_constraint_match_with_no_vector_yet_is_served_unscored_after_the_ranked_ones(corpus):
    """While an index is built, a document that meets every constraint but is not embedded yet is still an
    answer (the constraint is certain); it has no similarity and comes after every ranked hit."""
    store, frame = corpus
    dense = frame.dense
    assert dense is not None
    present = dense.present.copy()
    whole = search(store, frame, QUERIES[0])
    first = whole.ranked[0].hit.id
    present[int(np.flatnonzero(frame.ids == first)[0])] = False  # as if not embedded yet
    partial = dataclasses.replace(frame, dense=dataclasses.replace(dense, present=present))
    ranked = search(store, partial, QUERIES[0], keyword=False).ranked
    assert [r.hit.id for r in ranked if r.hit.distance is not None] == [r.hit.id for r in whole.ranked[1:]][
        : len(ranked) - 1
    ]
    unscored = [r for r in ranked if r.hit.distance is None]
    assert [r.hit.id for r in unscored] == [first] and ranked[-1].hit.id == first
    assert unscored[0].violates == [] and unscored[0].meets  # it meets every constraint


def test_the_frame_keeps_its_documents_in_one_chunk_per_column(tmp_path):
    """DuckDB hands a result over in a chunk per row group (122,880 rows); `take` on a many-chunk table
    joins them all on every search (18 ms at 500,000 documents), so the frame keeps one chunk."""
    import pyarrow.parquet as pq

    pq.write_table(generate_workers(130_000), tmp_path / "workers.parquet")
    conn = duckdb.connect()
    conn.execute(f"CREATE VIEW workers AS SELECT * FROM read_parquet('{tmp_path / 'workers.parquet'}')")
    assert conn.sql(WORKERS.sql).to_arrow_table().column("text").num_chunks > 1  # the premise
    frame = build_frame(conn, WORKERS.sql, WORKERS.facet_sql, WORKERS.facets, "v1", WORKERS.metadata)
    assert frame.documents is not None and frame.documents.num_rows == frame.size == 130_000
    assert all(column.num_chunks == 1 for column in frame.documents.columns)
    assert frame.documents.column("text").to_pylist() == frame.texts


def test_an_index_chroma_cannot_read_just_now_leaves_the_certain_part_of_the_answer(corpus, monkeypatch):
    """A segment not on disk yet (Chroma's transient error, past its retries) is not a failed search: the
    constraint matches are still served, ranked by the vectors in memory."""
    from lakehouse_assets.core.vectors.exceptions import IndexUnavailable

    store, frame = corpus

    def unavailable(*args, **kwargs):
        raise IndexUnavailable(INDEX, "Error creating hnsw segment reader: Nothing found on disk")

    monkeypatch.setattr(store, "query", unavailable)
    monkeypatch.setattr(store, "fetch", unavailable)
    whole = search(store, frame, QUERIES[1], keyword=False)
    assert whole.ranked and all(r.hit.distance is not None and not r.violates for r in whole.ranked)
    unconstrained = search(store, frame, "someone who can weld", keyword=False)
    assert unconstrained.ranked and unconstrained.strategy == f"exact over {frame.size}"
    partial = dataclasses.replace(frame, dense=dataclasses.replace(frame.dense, complete=False))
    unconstrained = search(store, partial, "someone who can weld", keyword=False)
    assert unconstrained.ranked and unconstrained.strategy == "exact over the embedded part (index not readable)"
    no_vectors = search(store, dataclasses.replace(frame, dense=None), QUERIES[1], keyword=False)
    assert {r.hit.id for r in no_vectors.ranked} and all(r.hit.distance is None for r in no_vectors.ranked)
    assert all(not r.violates for r in no_vectors.ranked)


def test_an_unconstrained_search_is_the_exact_nearest_not_hnsws_guess(corpus, monkeypatch):
    """A roster's documents are near-duplicates by the thousand, which strands HNSW's greedy walk: at 100,000
    workers its top 10 for "drives big rigs cross country" were forklift operators while the truck drivers
    were the exact nearest. With every vector in memory the ranking is exact, and Chroma is not asked."""
    store, frame = corpus

    def hnsw(*args, **kwargs):
        raise AssertionError("Chroma's HNSW was asked although the frame holds every vector")

    monkeypatch.setattr(store, "query", hnsw)
    query = "someone who can weld"
    result = search(store, frame, query, keyword=False)
    q = WordEmbedder().embed_one(parse_query(query, frame.vocab).semantic or query)
    sims = frame.dense.matrix @ (q / np.linalg.norm(q))
    top = sorted((round(float(x), 5) for x in sims), reverse=True)[:10]
    assert [round(1 - r.hit.distance, 5) for r in result.ranked[:10]] == top
    assert result.strategy == f"exact over {frame.size}"
