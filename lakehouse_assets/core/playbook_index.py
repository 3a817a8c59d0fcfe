"""Recording playbooks online: log first, then index the new records at once, through the same corpus
SQL the `corpus_documents` asset runs, so the next asset run finds them already embedded (same
content hash) and skips them. An index left by another model (the default embedder changed) is rebuilt
from the whole log, which holds every record, so no playbook drops out of search.

The API records through a PlaybookWriter: group commit. Each request's records are logged (fsync'd) in
the request's own thread; one writer thread then indexes everything queued meanwhile in one write, and
each request returns once the write holding its records is done; the writers of several API worker
processes take turns (a lock file beside the log). Concurrent upserts into one Chroma
collection contend badly: four request threads got 8.7 records/s into the demo's `playbooks` index at
176 ms of server CPU each, where one got 29/s at 16 ms.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import Future

import pyarrow as pa

from lakehouse_assets.core.corpora import PLAYBOOKS
from lakehouse_assets.core.duck import scratch_cursor
from lakehouse_assets.core.embedder import Embedder
from lakehouse_assets.core.file_lock import file_lock
from lakehouse_assets.core.indexing import IndexSync, sync_index
from lakehouse_assets.core.playbooks import PlaybookLog, PlaybookRecord, playbook_table
from lakehouse_assets.core.vectors import IndexConflict, VectorStore

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
    return index_playbooks(_documents(records), log=log, embedder=embedder, store=store, hnsw=hnsw)


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
        everything = _documents(log.replay().records)
        return sync_index(
            PLAYBOOKS.index, everything, PLAYBOOKS.metadata, embedder=embedder, store=store, hnsw=hnsw,
            replace_other_settings=True,
        )  # fmt: skip


class PlaybookWriter:
    """Playbook records from many request threads: logged by each, indexed together (see the module docstring)."""

    def __init__(
        self, log: PlaybookLog, *, embedder: Embedder, store: VectorStore, hnsw: dict[str, int] | None = None
    ) -> None:
        self.log, self.embedder, self.store, self.hnsw = log, embedder, store, hnsw
        self._queue: list[tuple[pa.Table, Future[IndexSync]]] = []
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None

    def record(self, records: Sequence[PlaybookRecord]) -> int:
        """Log `records` durably, index them; returns how many of them were new to the index."""
        documents = _documents(records)
        self.log.append(records)
        done: Future[IndexSync] = Future()
        with self._ready:
            self._queue.append((documents, done))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._write_loop, name="playbook-writer", daemon=True)
                self._thread.start()
            self._ready.notify()
        sync = done.result()
        return len(set(documents.column("id").to_pylist()) & sync.embedded_ids)

    def _write_loop(self) -> None:
        while True:
            with self._ready:
                while not self._queue:
                    self._ready.wait()
                batch, self._queue = self._queue, []
            try:
                with file_lock(self.log.path.with_name(self.log.path.name + ".index.lock")):  # one worker at a time
                    sync = index_playbooks(
                        _distinct(pa.concat_tables([d for d, _ in batch])), log=self.log, embedder=self.embedder,
                        store=self.store, hnsw=self.hnsw,
                    )  # fmt: skip
            except BaseException as e:  # every waiting request hears of it; the loop goes on
                log.warning("indexing %d playbook records failed: %s", sum(d.num_rows for d, _ in batch), e)
                for _, done in batch:
                    done.set_exception(e)
                continue
            for _, done in batch:
                done.set_result(sync)


def _distinct(documents: pa.Table) -> pa.Table:
    """The first row of each id (two requests may log the same record)."""
    first: dict[str, int] = {}
    for i, id_ in enumerate(documents.column("id").to_pylist()):
        first.setdefault(id_, i)
    return documents if len(first) == documents.num_rows else documents.take(list(first.values()))


def _documents(records: Sequence[PlaybookRecord]) -> pa.Table:
    """The `playbooks` corpus documents of `records`, by the corpus's own SQL."""
    conn = scratch_cursor()
    try:
        conn.register("playbook_memory", playbook_table(records))
        return conn.sql(PLAYBOOKS.sql).to_arrow_table()
    finally:
        conn.close()
