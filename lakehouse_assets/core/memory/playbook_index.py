"""Recording playbooks online: log first, then index the new records at once, through the same corpus
SQL the `corpus_documents` asset runs, so the next asset run finds them already embedded (same
content hash) and skips them. An index left by another model (the default embedder changed) is rebuilt
from the whole log, which holds every record, so no playbook drops out of search.

The API records through a PlaybookWriter: group commit behind the journal. Each request's records are
logged (fsync'd) in the request's own thread, and the request returns: they are searchable from then on
through RecentPlaybooks, which every API worker follows. One writer thread indexes everything queued
meanwhile in one write (a failed write is tried again; the journal holds the records whatever happens);
the writers of several API worker processes take turns (a lock file beside the log). Concurrent upserts
into one Chroma collection contend badly: four request threads got 8.7 records/s into the demo's
`playbooks` index at 176 ms of server CPU each, where one got 29/s at 16 ms; and under 50 clients a
request that waited for its group commit took 1.3 s at the median.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

import pyarrow as pa

from lakehouse_assets.core.lake.file_lock import file_lock
from lakehouse_assets.core.memory.playbook_recent import RecentPlaybooks, playbook_documents
from lakehouse_assets.core.memory.playbooks import PlaybookLog, PlaybookRecord
from lakehouse_assets.core.retrieval.corpora import PLAYBOOKS
from lakehouse_assets.core.vectors.embedder import Embedder
from lakehouse_assets.core.vectors.exceptions import IndexConflict
from lakehouse_assets.core.vectors.indexing import IndexSync, sync_index
from lakehouse_assets.core.vectors.store import VectorStore

log = logging.getLogger(__name__)


def record_playbooks(
    records: Sequence[PlaybookRecord],
    *,
    log: PlaybookLog,
    embedder: Embedder,
    store: VectorStore,
    hnsw: dict[str, int] | None = None,
) -> IndexSync:
    """Append `records` to the log (durably), then add them to the `playbooks` index."""
    log.append(records)
    return index_playbooks(playbook_documents(records), log=log, embedder=embedder, store=store, hnsw=hnsw)


def index_playbooks(
    documents: pa.Table,
    *,
    log: PlaybookLog,
    embedder: Embedder,
    store: VectorStore,
    hnsw: dict[str, int] | None = None,
) -> IndexSync:
    """Add logged records' corpus `documents` to the `playbooks` index (the whole log when it is another model's)."""
    try:
        return sync_index(
            PLAYBOOKS.index, documents, PLAYBOOKS.metadata, embedder=embedder, store=store, hnsw=hnsw,
            delete_missing=False,
        )  # fmt: skip
    except IndexConflict:
        everything = playbook_documents(log.replay().records)
        return sync_index(
            PLAYBOOKS.index, everything, PLAYBOOKS.metadata, embedder=embedder, store=store, hnsw=hnsw,
            replace_other_settings=True,
        )  # fmt: skip


class PlaybookWriter:
    """Playbook records from many request threads: journaled by each, searchable at once (RecentPlaybooks),
    indexed together behind them (see the module docstring)."""

    def __init__(
        self,
        recent: RecentPlaybooks,
        *,
        store: VectorStore,
        hnsw: dict[str, int] | None = None,
        retry_seconds: tuple[float, float] = (1.0, 30.0),
    ) -> None:
        self.recent, self.log, self.embedder = recent, recent.log, recent.embedder
        self.store, self.hnsw = store, hnsw
        self.retry_seconds = retry_seconds  # first and longest wait before a failed write is tried again
        self.failures = 0  # writes that failed in a row (0 once one succeeds)
        self._queue: list[PlaybookRecord] = []
        self._busy = False  # a write is under way
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None

    def record(self, records: Sequence[PlaybookRecord]) -> int:
        """Journal `records` durably and hand them to the index writer; returns how many the journal did not
        hold before. They are searchable (use_playbook, from any API worker) when this returns."""
        new = self.recent.append(records)
        with self._ready:
            self._queue.extend(records)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._write_loop, name="playbook-writer", daemon=True)
                self._thread.start()
            self._ready.notify_all()
        return new

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every record handed over so far is in the index: True, or False when `timeout` passed
        first (a write failing again and again)."""
        with self._ready:
            return self._ready.wait_for(lambda: not self._queue and not self._busy, timeout)

    def _write_loop(self) -> None:
        delay = self.retry_seconds[0]
        while True:
            with self._ready:
                self._ready.wait_for(lambda: bool(self._queue))
                batch, self._queue, self._busy = self._queue, [], True
            try:
                with file_lock(self.log.path.with_name(self.log.path.name + ".index.lock")):  # one worker at a time
                    # One corpus SQL for the batch, in this thread: not on the requests' path.
                    index_playbooks(
                        playbook_documents(batch), log=self.log, embedder=self.embedder, store=self.store,
                        hnsw=self.hnsw,
                    )  # fmt: skip
            except Exception as e:  # the records are journaled and searchable: the write is tried again
                self.failures += 1
                log.warning("indexing %d playbook records failed (retrying in %.0f s): %s", len(batch), delay, e)
                with self._ready:
                    self._queue[:0] = batch
                    self._busy = False
                    self._ready.notify_all()
                time.sleep(delay)
                delay = min(delay * 2, self.retry_seconds[1])
                continue
            self.failures, delay = 0, self.retry_seconds[0]
            with self._ready:
                self._busy = False
                self._ready.notify_all()
