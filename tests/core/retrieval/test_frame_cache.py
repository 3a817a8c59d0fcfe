"""FrameCache: a frame per source version, and the index's vectors followed as the index changes: only
what the frame lacks is read, in the search's thread for a small index and in the background (published
page by page, looked at again at most every `follow_seconds`) for a large one. A search never waits for
a large read, and ranks over the part already read while the rest arrives."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from lakehouse_assets.core.retrieval import facet_frame
from lakehouse_assets.core.retrieval.facet_frame import FacetFrame, FrameVectors, read_vectors
from lakehouse_assets.core.retrieval.frame_cache import FrameCache, FrameSource, IndexSource
from lakehouse_assets.core.retrieval.vocabulary import Vocabulary
from lakehouse_assets.core.vectors.store import VectorStore
from lakehouse_assets.core.vectors.types import IndexSpec


def make_frame(ids: list[str], version: str = "v1") -> FacetFrame:
    arr = np.asarray(ids, dtype=object)
    texts = [f"worker {i} drives a forklift" if i.endswith("7") else f"worker {i} files paperwork" for i in ids]
    return FacetFrame(arr, arr.copy(), {}, {}, {}, {}, Vocabulary(()), version, texts=texts)


class Source:
    """A corpus whose source version and index state the test moves. Its index holds the first `count`
    documents of the frame; reads count, and record which rows they were asked to add."""

    def __init__(self, ids: list[str]) -> None:
        self.ids, self.version, self.count, self.revision, self.generation = ids, "v1", len(ids), "r1", "g1"
        self.builds = self.reads = 0
        self.asked: list[int] = []  # rows a read had to fetch (those its prior did not hold)
        self.gate = threading.Event()
        self.gate.set()
        self.fail = False
        self.pages = 1

    def build(self) -> FacetFrame:
        self.builds += 1
        return make_frame(self.ids, self.version)

    def read(self, frame: FacetFrame, prior: FrameVectors | None, publish=None) -> FrameVectors:
        self.reads += 1
        self.gate.wait(10)
        if self.fail:
            raise RuntimeError("the vector store went away")
        present = prior.present.copy() if prior is not None else np.zeros(frame.size, bool)
        matrix = prior.matrix if prior is not None else np.zeros((frame.size, 4), np.float32)
        held = min(self.count, frame.size)
        todo = [r for r in range(held) if not present[r]]
        self.asked.append(len(todo))
        for chunk in np.array_split(np.asarray(todo, dtype=int), self.pages):
            matrix[chunk] = 1.0
            present[chunk] = True
            if publish is not None:
                publish(FrameVectors(matrix, present.copy(), complete=False))
        return FrameVectors(matrix, present)

    def __call__(self, corpus: str) -> FrameSource | None:
        if corpus != "workers":
            return None
        index = IndexSource(self.count, self.read, self.revision, self.generation, "m")
        return FrameSource(self.version, self.build, {"full": index})


def wait_for(check, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_small_index_is_read_in_the_search_thread_and_only_its_new_vectors_when_it_grows():
    source = Source(["a", "b", "c", "d"])
    source.count = 3
    cache = FrameCache(source, sync_vectors=10)
    frame = cache.get("workers")
    assert frame is not None and frame.dense is not None and frame.dense.count == 3 and frame.dense.rows == 3
    assert cache.get("workers") is frame and source.reads == 1 and source.builds == 1
    assert cache.index_state("workers", frame).state == "building"
    source.count, source.revision = 4, "r2"  # the index grew: the next search sees the new vector
    dense = cache.get("workers").dense
    assert (dense.count, dense.rows) == (4, 4) and source.reads == 2 and source.asked == [3, 1]
    assert cache.index_state("workers", frame).as_dict() == {
        "state": "ready", "embedded": 4, "documents": 4, "indexed": 4, "model": "m",
    }  # fmt: skip
    assert cache.get("unknown") is None


def test_a_new_revision_is_followed_and_a_new_generation_drops_the_vectors_at_once():
    small = Source(["a", "b", "c"])
    cache = FrameCache(small, sync_vectors=10)
    first = cache.get("workers").dense
    small.revision = "r2"  # written in place: what the frame lacks is asked for again
    second = cache.get("workers").dense
    assert second is not first and second.state == (3, "r2", "g1") and small.reads == 2
    assert cache.get("workers").dense is second and small.reads == 2  # unchanged: not read again

    large = Source([f"w{i}" for i in range(50)])
    cache = FrameCache(large, sync_vectors=10, follow_seconds=0.0)
    frame = cache.get("workers")
    wait_for(lambda: frame.dense is not None and frame.dense.complete)
    large.gate.clear()
    large.revision = "r2"
    kept = cache.get("workers").dense
    assert kept is not None and kept.rows == 50  # still answering while the new state is read
    large.gate.set()
    wait_for(lambda: frame.dense.revision == "r2")
    large.gate.clear()
    large.generation = "g2"  # the index was dropped and made again (perhaps by another model)
    assert cache.get("workers").dense is None
    large.gate.set()
    wait_for(lambda: frame.dense is not None and frame.dense.generation == "g2")
    assert large.asked[-1] == 50  # read whole again


def test_a_new_source_version_rebuilds_the_frame():
    source = Source(["a", "b"])
    cache = FrameCache(source)
    first = cache.get("workers")
    source.version = "v2"
    second = cache.get("workers")
    assert second is not first and second.version == "v2" and source.builds == 2
    assert second.dense is not None  # the new frame's rows get their own vectors


def test_a_large_index_is_read_in_the_background_page_by_page_and_no_search_waits():
    source = Source([f"w{i}" for i in range(50)])
    source.pages = 5
    source.gate.clear()  # the read blocks until the test lets it finish
    cache = FrameCache(source, sync_vectors=10, follow_seconds=0.0)
    frame = cache.get("workers")
    assert frame.dense is None  # returned at once, the read under way
    wait_for(lambda: cache.status()["workers"]["vectors_loading"])
    assert cache.get("workers").dense is None and source.reads == 1  # one read at a time
    assert cache.index_state("workers", frame).state == "loading"
    source.revision = "r2"
    source.gate.set()
    wait_for(lambda: frame.dense is not None and frame.dense.complete and frame.dense.revision == "r2")
    assert cache.status()["workers"] == {
        "entities": 50,
        "vectors_in_memory": 50,
        "vectors_loading": False,
        "keyword_index": "on first use",
    }


def test_pages_are_published_while_a_large_read_goes_on():
    source = Source([f"w{i}" for i in range(50)])
    source.pages = 5
    seen: list[tuple[int, bool]] = []
    cache = FrameCache(source, sync_vectors=10, follow_seconds=0.0)
    real = source.read

    def read(frame, prior, publish):
        def spy(partial):
            publish(partial)
            seen.append((frame.dense.rows, frame.dense.complete))

        return real(frame, prior, spy)

    source.read = read
    frame = cache.get("workers")
    wait_for(lambda: frame.dense is not None and frame.dense.complete)
    assert seen == [(10, False), (20, False), (30, False), (40, False), (50, False)]


def test_an_index_being_written_is_followed_at_most_every_follow_seconds():
    source = Source([f"w{i}" for i in range(50)])
    source.count = 10
    cache = FrameCache(source, sync_vectors=5, follow_seconds=0.5)
    frame = cache.get("workers")
    wait_for(lambda: frame.dense is not None and frame.dense.rows == 10)
    started = time.monotonic()
    for n in (20, 30, 40, 50):
        source.count, source.revision = n, f"r{n}"
        cache.get("workers")
        time.sleep(0.05)
    wait_for(lambda: frame.dense.rows == 50 and frame.dense.complete)
    assert source.reads <= 3 and time.monotonic() - started >= 0.45  # not one read per write
    assert sum(source.asked) == 50  # and each vector read once


def test_a_failed_background_read_is_logged_and_tried_again(caplog):
    source = Source([f"w{i}" for i in range(50)])
    source.fail = True
    cache = FrameCache(source, sync_vectors=10, follow_seconds=0.0)
    frame = cache.get("workers")
    wait_for(lambda: source.reads == 1 and not cache.status()["workers"]["vectors_loading"])
    assert frame.dense is None and "reading the vectors of workers failed" in caplog.text
    source.fail = False
    cache.get("workers")
    wait_for(lambda: frame.dense is not None)


def test_a_read_that_finishes_after_the_frame_was_replaced_is_discarded_and_the_new_frame_read():
    source = Source([f"w{i}" for i in range(50)])
    source.gate.clear()
    cache = FrameCache(source, sync_vectors=10, follow_seconds=0.0)
    old = cache.get("workers")
    wait_for(lambda: cache.status()["workers"]["vectors_loading"])
    source.version = "v2"
    new = cache.get("workers")
    source.gate.set()
    wait_for(lambda: new.dense is not None)  # the reader moved on to the frame that replaced it
    assert old.dense is None and new is not old and source.reads == 2


@pytest.fixture
def store(tmp_path: Path) -> VectorStore:
    return VectorStore.local(tmp_path / "chroma")


def test_read_vectors_aligns_rows_with_the_frame_and_marks_missing_documents(store: VectorStore):
    store.ensure_index(IndexSpec("docs", "m", 3))
    vectors = np.array([[3, 0, 0], [0, 1, 0], [0, 0, 0.5]], dtype=np.float32)  # unit rows in memory: dot = cosine
    store.upsert("docs", model="m", ids=["c", "a", "b"], embeddings=vectors)
    frame = make_frame(["a", "b", "c", "d"])
    dense = read_vectors(store, "docs", frame.ids, count=3, page=2)
    assert dense is not None and dense.count == 3 and dense.rows == 3
    assert dense.present.tolist() == [True, True, True, False]
    np.testing.assert_array_equal(dense.matrix[:3], np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0]], dtype=np.float32))
    assert read_vectors(store, "absent", frame.ids, count=0) is None


def test_read_vectors_adds_to_what_it_holds_and_leaves_out_vectors_of_another_version(store: VectorStore):
    store.ensure_index(IndexSpec("docs", "m", 2))
    store.upsert(
        "docs",
        model="m",
        ids=["a", "b"],
        embeddings=np.eye(2),
        metadatas=[{"content_hash": "ha"}, {"content_hash": "old"}],
    )
    frame = make_frame(["a", "b", "c"])
    hashes = ["ha", "hb", "hc"]
    first = read_vectors(store, "docs", frame.ids, hashes=hashes)
    assert first is not None and first.present.tolist() == [True, False, False]  # b's vector is of its old text
    store.upsert(
        "docs",
        model="m",
        ids=["b", "c"],
        embeddings=np.array([[1, 1], [0, 1]]),
        metadatas=[{"content_hash": "hb"}, {"content_hash": "hc"}],
    )
    asked: list[list[str]] = []
    real = store.vector_pages

    def pages(name, ids, batch=1000, **kw):
        asked.append(list(ids))
        return real(name, ids, batch, **kw)

    store.vector_pages = pages  # type: ignore[method-assign]
    second = read_vectors(store, "docs", frame.ids, hashes=hashes, prior=first)
    assert asked == [["b", "c"]] and second is not None and second.present.tolist() == [True, True, True]
    np.testing.assert_allclose(second.matrix, [[1, 0], [0.70710677, 0.70710677], [0, 1]], atol=1e-6)
    assert first.present.tolist() == [True, False, False]  # what a search holds does not move under it


def test_the_background_reader_follows_the_index_with_no_further_search():
    source = Source([f"w{i}" for i in range(50)])
    source.gate.clear()
    cache = FrameCache(source, sync_vectors=10, follow_seconds=0.2)
    frame = cache.get("workers")  # say, the API warming its frames at start-up
    assert frame.dense is None
    source.gate.set()
    wait_for(lambda: frame.dense is not None and frame.dense.complete)  # no further search came


def test_a_large_frame_builds_its_keyword_index_in_the_background_and_fusion_does_not_wait():
    source = Source([f"w{i}" for i in range(50)])
    cache = FrameCache(source, sync_keywords=10)
    with facet_frame._KEYWORD_LOCK:  # hold the build back
        frame = cache.get("workers")
        assert frame is not None and frame.keyword_in_background
        assert frame.keywords_for_fusion() is None  # answered at once, without the index
        assert cache.status()["workers"]["keyword_index"] == "building"
    wait_for(lambda: cache.status()["workers"]["keyword_index"] == "ready")
    index = frame.keywords_for_fusion()
    assert index is not None and frame.texts is None  # built once; the texts were let go
    assert {frame.ids[i] for i, _ in index.top("forklift", 10)} == {"w7", "w17", "w27", "w37", "w47"}


def test_a_small_frame_builds_its_keyword_index_on_first_use():
    cache = FrameCache(Source(["w1", "w7"]), sync_keywords=10)
    frame = cache.get("workers")
    assert not frame.keyword_in_background and cache.status()["workers"]["keyword_index"] == "on first use"
    assert [frame.ids[i] for i, _ in frame.keywords_for_fusion().top("forklift", 5)] == ["w7"]
    assert cache.status()["workers"]["keyword_index"] == "ready"


def test_a_failed_background_build_leaves_it_to_the_next_search(monkeypatch):
    real = facet_frame.KeywordIndex
    calls = []

    def flaky(texts):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("out of memory")
        return real(texts)

    monkeypatch.setattr(facet_frame, "KeywordIndex", flaky)
    cache = FrameCache(Source([f"w{i}" for i in range(20)]), sync_keywords=10)
    frame = cache.get("workers")
    wait_for(lambda: not frame.keyword_in_background)
    assert cache.status()["workers"]["keyword_index"] == "on first use"
    assert frame.keywords_for_fusion() is not None and len(calls) == 2


def test_the_instant_tier_answers_until_the_full_models_vectors_are_all_here_then_is_let_go():
    """The full index is read once it holds every document, not followed while the instant tier covers all."""
    full, instant = Source([f"w{i}" for i in range(20)]), Source([f"w{i}" for i in range(20)])
    full.count = 0  # the full model's index is not built yet; the instant one is complete

    def loader(corpus: str) -> FrameSource | None:
        tiers = {
            "full": IndexSource(full.count, full.read, full.revision, full.generation, "big"),
            "instant": IndexSource(instant.count, instant.read, instant.revision, "i1", "small"),
        }
        return FrameSource("v1", full.build, tiers) if corpus == "workers" else None

    cache = FrameCache(loader, sync_vectors=100)
    frame = cache.get("workers")
    assert cache.answering("workers", frame) == "instant" and frame.instant.rows == 20 and frame.dense is None
    assert cache.index_state("workers", frame, "instant").as_dict() == {
        "state": "ready", "embedded": 20, "documents": 20, "indexed": 20, "model": "small",
    }  # fmt: skip
    assert cache.index_state("workers", frame).state == "empty"
    full.count, full.revision = 12, "r2"  # the full model is part of the way
    frame = cache.get("workers")
    # not read while the instant tier answers every document: one read once the full index is whole
    assert frame.dense is None and cache.answering("workers", frame) == "instant"
    assert cache.index_state("workers", frame).as_dict() == {
        "state": "building", "embedded": 0, "documents": 20, "indexed": 12, "model": "big",
    }  # fmt: skip
    assert cache.status()["workers"]["answering"] == "instant"
    full.count, full.revision = 20, "r3"
    frame = cache.get("workers")
    assert cache.answering("workers", frame) == "full" and frame.dense.rows == 20
    assert frame.instant is None  # its vectors are let go: no search needs them any more
    assert cache.status()["workers"]["instant_vectors_in_memory"] == 0
