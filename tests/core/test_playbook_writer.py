"""The API's playbook writer: every request's records are logged and searchable when it returns, and the
records of requests that arrive while a write is under way go into the index together (group commit)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from lakehouse_assets.core.corpora import PLAYBOOKS
from lakehouse_assets.core.playbook_index import PlaybookWriter
from lakehouse_assets.core.playbooks import PlaybookLog, PlaybookRecord
from lakehouse_assets.core.vectors import VectorStore
from tests.core.test_indexing import WordCountEmbedder


class HeldStore(VectorStore):
    """A local store whose first upsert waits until the test lets it go, and that counts its upserts."""

    def __init__(self, path: Path) -> None:
        local = VectorStore.local(path)
        super().__init__(local.client)
        self.upserts: list[int] = []
        self.entered, self.release = threading.Event(), threading.Event()
        self.fail_next = False

    def upsert(self, name: str, **kw: Any) -> int:
        if not self.upserts:
            self.entered.set()
            self.release.wait(10)
        self.upserts.append(len(kw["ids"]))
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("the vector store went away")
        return super().upsert(name, **kw)


def test_requests_arriving_during_a_write_are_indexed_together_and_each_learns_its_own_count(tmp_path: Path) -> None:
    store = HeldStore(tmp_path / "chroma")
    log = PlaybookLog(tmp_path / "playbooks.jsonl")
    writer = PlaybookWriter(log, embedder=WordCountEmbedder(), store=store)
    first = [PlaybookRecord("forklift night shift", ("1",))]
    later = [[PlaybookRecord(f"welder in Ohio {n}", (str(n),))] for n in range(8)]
    later.append(later[0])  # the same record from two requests in one write: embedded once, new to both
    with ThreadPoolExecutor(len(later) + 1) as pool:
        head = pool.submit(writer.record, first)
        assert store.entered.wait(10)  # the first write is under way
        tails = [pool.submit(writer.record, r) for r in later]
        while len(writer._queue) < len(later):  # every later request has logged and queued
            threading.Event().wait(0.01)
        store.release.set()
        counts = [head.result(10), *(t.result(10) for t in tails)]
    assert len(store.upserts) == 2, store.upserts  # the first request's write, then everything queued meanwhile
    assert store.upserts[1] == 8
    assert counts == [1] * 10
    assert store.count(PLAYBOOKS.index) == 9
    assert len(log.replay().records) == 10  # the log keeps every request's record, duplicates too


def test_a_failed_write_fails_the_requests_in_it_and_the_next_write_goes_on(tmp_path: Path) -> None:
    store = HeldStore(tmp_path / "chroma")
    store.release.set()
    writer = PlaybookWriter(PlaybookLog(tmp_path / "playbooks.jsonl"), embedder=WordCountEmbedder(), store=store)
    store.fail_next = True
    with pytest.raises(RuntimeError, match="went away"):
        writer.record([PlaybookRecord("forklift night shift", ("1",))])
    assert writer.record([PlaybookRecord("forklift night shift", ("1",))]) == 1
    assert store.count(PLAYBOOKS.index) == 1
    assert len(writer.log.replay().records) == 2  # logged before indexing: the failure lost nothing
