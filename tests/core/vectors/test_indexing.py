"""sync_index over an embedded Chroma: batches cut by the model's text length, identical texts
encoded once, every document stored with its vector."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from lakehouse_assets.core.memory.playbook_index import record_playbooks
from lakehouse_assets.core.memory.playbooks import PlaybookLog, PlaybookRecord
from lakehouse_assets.core.retrieval.corpora import PLAYBOOKS
from lakehouse_assets.core.vectors.embedder import Embedder
from lakehouse_assets.core.vectors.exceptions import IndexConflict
from lakehouse_assets.core.vectors.indexing import embed_part, finish_index, plan_index, split_plan, sync_index
from lakehouse_assets.core.vectors.store import VectorStore


class WordCountEmbedder(Embedder):
    """Counts words as its tokens and records the batches it is asked to encode."""

    model = "fake-word-count"
    dimension = 8

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        return [len(t.split()) for t in texts]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.batches.append(list(texts))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, t in enumerate(texts):
            out[i, len(t.split()) % self.dimension] = 1.0
            out[i, sum(map(ord, t)) % self.dimension] += 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def documents(texts: list[str]) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {"id": f"doc-{i}", "entity_id": str(i), "text": t, "content_hash": f"h-{t}", "kind": "worker"}
            for i, t in enumerate(texts)
        ]
    )


def test_batches_hold_texts_of_one_length_and_identical_texts_are_encoded_once(tmp_path: Path) -> None:
    # Interleaved lengths, with "b b" four times and "ccc ccc ccc" twice.
    texts = ["a a a", "b b", "a", "ccc ccc ccc", "b b", "a a", "b b", "ccc ccc ccc", "b b", "a a a a"]
    embedder = WordCountEmbedder()
    store = VectorStore.local(tmp_path / "chroma")
    result = sync_index("docs", documents(texts), ["kind"], embedder=embedder, store=store, batch_size=4)

    lengths = [[len(t.split()) for t in batch] for batch in embedder.batches]
    flat = [n for batch in lengths for n in batch]
    assert flat == sorted(flat)  # shortest first, never a longer text before a shorter one
    # Each batch encodes its distinct texts once: the first holds three of the four "b b".
    assert embedder.batches == [["a", "a a", "b b"], ["b b", "a a a", "ccc ccc ccc"], ["ccc ccc ccc", "a a a a"]]
    assert result.embedded == 10 and result.encoded == 8
    assert store.count("docs") == 10
    hashes = store.get_metadata("docs", "content_hash")
    assert hashes == {f"doc-{i}": f"h-{t}" for i, t in enumerate(texts)}


def test_adding_records_without_deletes_reads_only_their_own_entries(tmp_path: Path) -> None:
    """Online playbook records add one or two documents to an index that grows with every one: reading
    the whole index's hashes for each would make every record slower than the last."""
    store = VectorStore.local(tmp_path / "chroma")
    sync_index(
        "docs", documents([f"text {i}" for i in range(300)]), ["kind"], embedder=WordCountEmbedder(), store=store
    )
    asked: list[object] = []
    real = store.get_metadata

    def spy(name: str, field_name: str, ids=None):
        asked.append(None if ids is None else list(ids))
        return real(name, field_name, ids=ids)

    store.get_metadata = spy  # type: ignore[method-assign]
    one = pa.Table.from_pylist(
        [
            {"id": "doc-new", "entity_id": "new", "text": "brand new", "content_hash": "h-new", "kind": "worker"},
            {"id": "doc-3", "entity_id": "3", "text": "text 3", "content_hash": "h-text 3", "kind": "worker"},
        ]
    )
    result = sync_index("docs", one, ["kind"], embedder=WordCountEmbedder(), store=store, delete_missing=False)
    assert asked == [["doc-new", "doc-3"]]
    assert (result.embedded, result.skipped, result.deleted) == (1, 1, 0) and store.count("docs") == 301
    assert real("docs", "content_hash", ids=["doc-3", "absent"]) == {"doc-3": "h-text 3"}


class OtherModelEmbedder(WordCountEmbedder):
    """The same vectors under another model's name and dimension: what a change of default embedder leaves."""

    model = "fake-other-model"
    dimension = 16


def test_an_index_of_another_model_is_a_conflict_unless_the_caller_may_rebuild_it(tmp_path: Path) -> None:
    store = VectorStore.local(tmp_path / "chroma")
    texts = [f"text {i}" for i in range(20)]
    sync_index("docs", documents(texts), ["kind"], embedder=WordCountEmbedder(), store=store)

    with pytest.raises(IndexConflict) as caught:
        sync_index("docs", documents(texts), ["kind"], embedder=OtherModelEmbedder(), store=store)
    assert "fake-word-count" in str(caught.value) and "fake-other-model" in str(caught.value)
    info = store.get_index("docs")
    assert (info.model, info.dimension, store.count("docs")) == ("fake-word-count", 8, 20)  # left as it was

    result = sync_index(
        "docs", documents(texts[:15]), ["kind"], embedder=OtherModelEmbedder(), store=store, replace_other_settings=True
    )
    assert result.replaced and "fake-word-count" in result.replaced
    assert (result.embedded, result.skipped, result.deleted) == (15, 0, 0)
    info = store.get_index("docs")
    assert (info.model, info.dimension, store.count("docs")) == ("fake-other-model", 16, 15)
    again = sync_index(
        "docs", documents(texts[:15]), ["kind"], embedder=OtherModelEmbedder(), store=store, replace_other_settings=True
    )
    assert again.replaced is None and again.embedded == 0 and again.skipped == 15


def test_a_playbook_recorded_after_a_model_change_rebuilds_the_index_from_the_whole_log(tmp_path: Path) -> None:
    """Online records add to the `playbooks` index; one that meets another model's index cannot add to it
    and must not drop the earlier playbooks either: the log holds them all."""
    store = VectorStore.local(tmp_path / "chroma")
    log = PlaybookLog(tmp_path / "playbooks.jsonl")
    first = [PlaybookRecord(f"forklift night shift {n}", (str(n),)) for n in range(3)]
    record_playbooks(first, log=log, embedder=WordCountEmbedder(), store=store)
    assert store.count(PLAYBOOKS.index) == 3

    later = record_playbooks(
        [PlaybookRecord("welder in Ohio", ("9",))], log=log, embedder=OtherModelEmbedder(), store=store
    )
    assert later.replaced and later.embedded == 4
    info = store.get_index(PLAYBOOKS.index)
    assert (info.model, store.count(PLAYBOOKS.index)) == ("fake-other-model", 4)
    assert len(log.replay().records) == 4


def test_an_index_without_texts_holds_vectors_and_metadata_only(tmp_path: Path) -> None:
    store = VectorStore.local(tmp_path / "chroma")
    texts = ["a a", "b b b", "c"]
    sync_index("bare", documents(texts), ["kind"], embedder=WordCountEmbedder(), store=store, store_texts=False)
    got = store.client.get_collection("bare").get(include=["documents", "metadatas", "embeddings"])
    assert got["documents"] == [None, None, None] and len(got["embeddings"]) == 3
    assert {m["kind"] for m in got["metadatas"]} == {"worker"}


def test_a_plan_in_parts_keeps_identical_texts_together_and_builds_what_one_process_builds(tmp_path: Path) -> None:
    texts = [f"text {i % 37} " + "word " * (i % 5) for i in range(300)]
    store = VectorStore.local(tmp_path / "chroma")
    changed = documents(texts[:250] + [t + "changed" for t in texts[250:]])
    sync_index("one", changed, ["kind"], embedder=WordCountEmbedder(), store=store)
    sync_index("parts", documents(texts[:280]), ["kind"], embedder=WordCountEmbedder(), store=store)
    plan = plan_index("parts", changed, embedder=WordCountEmbedder(), store=store)
    assert len(plan.todo) == 50 and len(plan.changed) == 30  # 30 changed texts, 20 new documents
    parts = split_plan(plan, changed, 3)
    assert sorted(i for p in parts for i in p) == sorted(plan.todo) and len(parts) == 3
    text_of = dict(zip(changed.column("id").to_pylist(), changed.column("text").to_pylist(), strict=True))
    homes = [{text_of[i] for i in p} for p in parts]
    assert all(not (a & b) for n, a in enumerate(homes) for b in homes[n + 1 :])  # a text lives in one part

    embedder = WordCountEmbedder()
    done = [embed_part(plan, p, changed, ["kind"], embedder=embedder, store=store) for p in reversed(parts)]
    result = finish_index(plan, done, store=store, seconds=0.0)
    assert (result.embedded, result.skipped, result.total) == (50, 250, 300)
    assert result.encoded == len({text_of[i] for i in plan.todo})
    assert store.get_metadata("parts", "content_hash") == store.get_metadata("one", "content_hash")
    assert len(store.get_metadata("parts", "content_hash")) == 300
    assert split_plan(plan, changed, 1) == [plan.todo]
    with pytest.raises(ValueError, match="at least 1"):
        split_plan(plan, changed, 0)


def test_a_part_embedded_by_another_model_than_planned_is_refused(tmp_path: Path) -> None:
    store = VectorStore.local(tmp_path / "chroma")
    docs = documents(["a", "b b"])
    plan = plan_index("docs", docs, embedder=WordCountEmbedder(), store=store)

    class Other(WordCountEmbedder):
        model = "another-model"

    with pytest.raises(IndexConflict, match="planned for fake-word-count"):
        embed_part(plan, plan.todo, docs, ["kind"], embedder=Other(), store=store)
