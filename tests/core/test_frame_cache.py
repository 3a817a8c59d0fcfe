"""FrameCache: a frame per source version, and the index's vectors kept in step with the index's size,
read in the search's thread for a small index and in the background, once the index is quiet, for a
large one (a search never waits for a large read, and never ranks over stale vectors)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from lakehouse_assets.core import facet_frame
from lakehouse_assets.core.facet_frame import FacetFrame, FrameCache, FrameSource, FrameVectors, read_vectors
from lakehouse_assets.core.vectors import IndexSpec, VectorStore
from lakehouse_assets.core.vocabulary import Vocabulary


def make_frame(ids: list[str], version: str = "v1") -> FacetFrame:
    arr = np.asarray(ids, dtype=object)
    texts = [f"worker {i} drives a forklift" if i.endswith("7") else f"worker {i} files paperwork" for i in ids]
    return FacetFrame(arr, arr.copy(), {}, {}, {}, {}, Vocabulary(()), version, texts=texts)


class Source:
    """A corpus whose source version and index size the test moves, counting builds and vector reads."""

    def __init__(self, ids: list[str]) -> None:
        self.ids, self.version, self.count, self.revision = ids, "v1", len(ids), "r1"
        self.builds = self.reads = 0
        self.gate = threading.Event()
        self.gate.set()
        self.fail = False

    def build(self) -> FacetFrame:
        self.builds += 1
        return make_frame(self.ids, self.version)

    def read(self, frame: FacetFrame, count: int) -> FrameVectors:
        self.reads += 1
        self.gate.wait(10)
        if self.fail:
            raise RuntimeError("the vector store went away")
        return FrameVectors(np.ones((frame.size, 4), np.float16), np.ones(frame.size, bool), count)

    def __call__(self, corpus: str) -> FrameSource | None:
        if corpus != "workers":
            return None
        return FrameSource(self.version, self.build, self.count, self.read, self.revision)


def wait_for(check, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_small_index_is_read_in_the_search_thread_and_reread_when_it_changes_size():
    source = Source(["a", "b", "c"])
    cache = FrameCache(source, sync_vectors=10)
    frame = cache.get("workers")
    assert frame is not None and frame.dense is not None and frame.dense.count == 3 and frame.dense.rows == 3
    assert cache.get("workers") is frame and source.reads == 1 and source.builds == 1
    source.count = 4  # the index grew: the next search sees vectors read at the new size
    assert cache.get("workers").dense.count == 4 and source.reads == 2
    assert cache.get("unknown") is None


def test_an_update_in_place_rereads_the_vectors_though_the_size_is_the_same():
    """An index rewritten in place (a roster's changed workers re-embedded) keeps its size; its new
    revision is what tells the frame its vectors, which now also score the hits, are stale."""
    small = Source(["a", "b", "c"])
    cache = FrameCache(small, sync_vectors=10)
    first = cache.get("workers").dense
    small.revision = "r2"
    second = cache.get("workers").dense
    assert second is not first and (second.count, second.revision) == (3, "r2") and small.reads == 2
    assert cache.get("workers").dense is second and small.reads == 2  # unchanged: not read again

    large = Source([f"w{i}" for i in range(50)])
    cache = FrameCache(large, sync_vectors=10, quiet_seconds=0.0)
    frame = cache.get("workers")
    wait_for(lambda: frame.dense is not None)
    large.gate.clear()
    large.revision = "r2"
    assert cache.get("workers").dense is None  # dropped at once, re-read in the background
    large.gate.set()
    wait_for(lambda: frame.dense is not None and frame.dense.revision == "r2")
    assert large.reads == 2


def test_a_new_source_version_rebuilds_the_frame():
    source = Source(["a", "b"])
    cache = FrameCache(source)
    first = cache.get("workers")
    source.version = "v2"
    second = cache.get("workers")
    assert second is not first and second.version == "v2" and source.builds == 2
    assert second.dense is not None  # the new frame's rows get their own vectors


def test_a_large_index_is_read_in_the_background_once_quiet_and_no_search_waits():
    source = Source([f"w{i}" for i in range(50)])
    source.gate.clear()  # the read blocks until the test lets it finish
    cache = FrameCache(source, sync_vectors=10, quiet_seconds=0.0)
    frame = cache.get("workers")
    assert frame.dense is None  # returned at once, the read under way
    wait_for(lambda: cache.status()["workers"]["vectors_loading"])
    assert cache.get("workers").dense is None and source.reads == 1  # one read at a time
    source.gate.set()
    wait_for(lambda: frame.dense is not None)
    assert cache.status()["workers"] == {
        "entities": 50,
        "vectors_in_memory": 50,
        "vectors_loading": False,
        "keyword_index": "on first use",
    }


def test_vectors_of_an_index_that_changed_size_are_dropped_at_once():
    source = Source([f"w{i}" for i in range(50)])
    cache = FrameCache(source, sync_vectors=10, quiet_seconds=0.0)
    frame = cache.get("workers")
    wait_for(lambda: frame.dense is not None)
    source.gate.clear()
    source.count = 51
    assert cache.get("workers").dense is None  # stale vectors would hide the new document from exact ranking
    source.gate.set()
    wait_for(lambda: frame.dense is not None and frame.dense.count == 51)


def test_an_index_being_written_is_not_reread_until_it_keeps_one_size():
    source = Source([f"w{i}" for i in range(50)])
    cache = FrameCache(source, sync_vectors=10, quiet_seconds=0.3)
    cache.get("workers")
    source.count = 60
    cache.get("workers")
    time.sleep(0.1)
    assert source.reads == 0  # still inside the quiet period of the size last seen
    time.sleep(0.3)
    frame = cache.get("workers")
    wait_for(lambda: frame.dense is not None and frame.dense.count == 60)
    assert source.reads == 1


def test_a_failed_background_read_is_logged_and_tried_again(caplog):
    source = Source([f"w{i}" for i in range(50)])
    source.fail = True
    cache = FrameCache(source, sync_vectors=10, quiet_seconds=0.0)
    frame = cache.get("workers")
    wait_for(lambda: source.reads == 1 and not cache.status()["workers"]["vectors_loading"])
    assert frame.dense is None and "reading the vectors of workers failed" in caplog.text
    source.fail = False
    cache.get("workers")
    wait_for(lambda: frame.dense is not None)


def test_a_read_that_finishes_after_the_frame_was_replaced_is_discarded_and_the_new_frame_read():
    source = Source([f"w{i}" for i in range(50)])
    source.gate.clear()
    cache = FrameCache(source, sync_vectors=10, quiet_seconds=0.0)
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


def test_the_background_reader_does_not_wait_for_a_search_to_notice_the_index_is_quiet():
    source = Source([f"w{i}" for i in range(50)])
    cache = FrameCache(source, sync_vectors=10, quiet_seconds=0.2)
    frame = cache.get("workers")  # say, the API warming its frames at start-up
    assert frame.dense is None
    wait_for(lambda: frame.dense is not None)  # no further search came


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
