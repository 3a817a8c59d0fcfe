"""sync_index over an embedded Chroma: batches cut by the model's text length, identical texts
encoded once, every document stored with its vector."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from lakehouse_assets.core.embedder import Embedder
from lakehouse_assets.core.indexing import sync_index
from lakehouse_assets.core.vectors import VectorStore


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
