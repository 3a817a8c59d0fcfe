"""The API's playbook writer: a request returns once its records are journaled, and they are searchable
from then on (RecentPlaybooks, followed by every API worker); their vectors reach the index behind it, the
records of requests that arrive while a write is under way together (group commit), a failed write
tried again."""

from __future__ import annotations

import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from lakehouse_assets.core.memory.playbook_index import PlaybookWriter
from lakehouse_assets.core.memory.playbook_recent import RecentPlaybooks, pending_document, playbook_documents
from lakehouse_assets.core.memory.playbooks import PlaybookLog, PlaybookRecord
from lakehouse_assets.core.retrieval.corpora import PLAYBOOKS
from lakehouse_assets.core.vectors.indexing import index_metadata_columns, metadata_rows
from lakehouse_assets.core.vectors.store import VectorStore
from tests.core.vectors.test_indexing import WordCountEmbedder


class HeldStore(VectorStore):
    """A local store whose first upsert waits until the test lets it go, and that counts its upserts."""

    def __init__(self, path: Path) -> None:
        local = VectorStore.local(path)
        super().__init__(local.client)
        self.upserts: list[int] = []
        self.entered, self.release = threading.Event(), threading.Event()
        self.fail = 0  # upserts still to fail

    def upsert(self, name: str, **kw: Any) -> int:
        if not self.upserts:
            self.entered.set()
            self.release.wait(10)
        self.upserts.append(len(kw["ids"]))
        if self.fail:
            self.fail -= 1
            raise RuntimeError("the vector store went away")
        return super().upsert(name, **kw)


def nothing_held(ids: Any) -> set[str]:
    return set()


def nearest_query(recent: RecentPlaybooks, text: str) -> str | None:
    hits = recent.query(recent.embedder.embed_one(text), 1, nothing_held)
    return hits[0].document if hits else None


def test_requests_return_before_the_index_write_and_what_queued_meanwhile_is_written_together(tmp_path: Path) -> None:
    store = HeldStore(tmp_path / "chroma")
    log = PlaybookLog(tmp_path / "playbooks.jsonl")
    recent = RecentPlaybooks(log, WordCountEmbedder())
    writer = PlaybookWriter(recent, store=store)
    first = [PlaybookRecord("forklift night shift", ("1",))]
    later = [[PlaybookRecord(f"welder in Ohio {'x ' * n}", (str(n),))] for n in range(8)]
    later.append(later[0])  # the same record from two requests: journaled twice, new once
    assert writer.record(first) == 1  # returned while nothing is indexed
    assert store.entered.wait(10)  # the first write is under way, held
    with ThreadPoolExecutor(len(later)) as pool:
        counts = list(pool.map(writer.record, later))
    assert sorted(counts) == [0] + [1] * 8
    # every record is searchable while the index write is still held
    assert nearest_query(RecentPlaybooks(PlaybookLog(log.path), WordCountEmbedder()), "welder in Ohio x x x ") == (
        "welder in Ohio x x x "
    )
    assert store.upserts == []
    store.release.set()
    assert writer.flush(10)
    assert store.upserts == [1, 8]  # the first request's write, then everything queued meanwhile, once each
    assert store.count(PLAYBOOKS.index) == 9
    assert len(log.replay().records) == 10  # the log keeps every request's record, duplicates too


def test_a_failed_write_loses_nothing_and_is_tried_again(tmp_path: Path) -> None:
    store = HeldStore(tmp_path / "chroma")
    store.release.set()
    store.fail = 2
    recent = RecentPlaybooks(PlaybookLog(tmp_path / "playbooks.jsonl"), WordCountEmbedder())
    writer = PlaybookWriter(recent, store=store, retry_seconds=(0.05, 0.1))
    assert writer.record([PlaybookRecord("forklift night shift", ("1",))]) == 1
    assert nearest_query(recent, "forklift night shift") == "forklift night shift"  # searchable while it fails
    assert writer.flush(10)
    assert len(store.upserts) == 3 and store.count(PLAYBOOKS.index) == 1  # two failures, then written
    assert writer.failures == 0


def test_records_another_process_journals_are_found_by_the_next_query(tmp_path: Path) -> None:
    log = PlaybookLog(tmp_path / "playbooks.jsonl")
    recent = RecentPlaybooks(log, WordCountEmbedder())
    assert nearest_query(recent, "crane operator") is None
    script = (
        "import sys; from pathlib import Path;"
        "from lakehouse_assets.core.memory.playbooks import PlaybookLog, PlaybookRecord;"
        "PlaybookLog(Path(sys.argv[1])).append([PlaybookRecord('crane operator tower', ('7',))])"
    )
    subprocess.run([sys.executable, "-c", script, str(log.path)], check=True, cwd=Path(__file__).parents[2])
    assert nearest_query(recent, "crane operator tower") == "crane operator tower"
    hit = recent.query(recent.embedder.embed_one("crane operator tower"), 1, nothing_held)[0]
    assert hit.metadata["endorsed_ids"] == "7" and hit.metadata["outcome"] == "success"
    assert hit.id == playbook_documents(log.replay().records).column("id")[0].as_py()


def test_records_the_index_holds_are_dropped_without_being_embedded(tmp_path: Path) -> None:
    log = PlaybookLog(tmp_path / "playbooks.jsonl")
    records = [PlaybookRecord(f"role number {i}", (str(i),)) for i in range(50)]
    log.append(records)
    documents = playbook_documents(records)
    ids, texts = documents.column("id").to_pylist(), documents.column("text").to_pylist()
    embedder = WordCountEmbedder()
    recent = RecentPlaybooks(log, embedder)
    indexed = set(ids[:49])
    hits = recent.query(np.ones(embedder.dimension, dtype=np.float32), 5, lambda asked: indexed & set(asked))
    assert [h.id for h in hits] == [ids[49]] and recent.pending == 1
    assert embedder.batches == [[texts[49]]]  # only the one the index lacks was embedded


def test_a_pending_document_is_what_the_corpus_sql_makes_of_the_record() -> None:
    records = [
        PlaybookRecord("forklift night shift", ("1", "2"), rejected_ids=("3",), outcome="partial", contract_id="c-9"),
        PlaybookRecord("welder", ("4",), recorded_at="2026-01-02T03:04:05Z"),
    ]
    documents = playbook_documents(records)
    columns = [c for c in index_metadata_columns(PLAYBOOKS.metadata) if c != "content_hash"]
    expected = list(zip(documents.column("id").to_pylist(), documents.column("text").to_pylist(),
                        metadata_rows(documents, columns), strict=True))  # fmt: skip
    assert sorted(pending_document(r) for r in records) == sorted(expected)  # the SQL orders by time
