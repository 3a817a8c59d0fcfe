"""Playbooks searchable the moment they are journaled, before the `playbooks` index holds them.

A record is acknowledged once it is in the durable journal; its vector reaches the index afterwards (the
API's PlaybookWriter, or the next `corpus_embeddings[playbooks]` run, which indexes the whole log). Under a
mixed load at 50 clients, waiting for the group-committed Chroma write was most of a record's second.
So a search's `use_playbook` asks two places: the index, and the journal's records the index does not hold
yet. Every API worker process follows the journal (`JsonlJournal.tail`: only what was appended since, any
process's appends), so a record made through one worker is found by the next search through any other.

A followed record stays here until the index is seen to hold its document id; only the ones it does not
are embedded (by this process's full-model embedder, whose cache usually has the text already: the
recording request's own replay asks with the same words). What is kept of a record is its corpus
document (id, text, metadata), derived in Python (`pending_document`) rather than by the corpus SQL: at
50 clients the SQL, run through DuckDB for each record, was 7% of an API worker's CPU; a test holds the
two equal.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from lakehouse_assets.core.lake.duck import scratch_cursor
from lakehouse_assets.core.memory.journal import JournalCursor
from lakehouse_assets.core.memory.playbooks import PlaybookLog, PlaybookRecord, playbook_row, playbook_table
from lakehouse_assets.core.retrieval.corpora import PLAYBOOKS
from lakehouse_assets.core.vectors.embedder import Embedder, unit_rows
from lakehouse_assets.core.vectors.types import VectorHit

# Which of these document ids the index holds (None: cannot tell now, keep them all).
Held = Callable[[Sequence[str]], Collection[str] | None]


@dataclass
class _Pending:
    document: str  # the corpus document's text: the record's query
    metadata: dict[str, Any]
    vector: np.ndarray | None = None  # unit row, once embedded


class RecentPlaybooks:
    """The playbook journal's records not in the index yet, followed from any process's appends."""

    def __init__(self, log: PlaybookLog, embedder: Embedder) -> None:
        self.log, self.embedder = log, embedder
        self._cursor = JournalCursor()
        self._known: set[str] = set()  # the playbook id of every record followed so far
        self._pending: dict[str, _Pending] = {}  # document id -> not seen in the index yet
        self._lock = threading.Lock()

    def append(self, records: Sequence[PlaybookRecord]) -> int:
        """Journal `records` durably (searchable in this process at once); returns how many of them this
        process had not seen journaled before."""
        self.log.append(records)
        with self._lock:
            new = {r.playbook_id for r in records if r.playbook_id not in self._known}
            self._follow(records)
        return len(new)

    def query(self, vector: np.ndarray, k: int, held: Held) -> list[VectorHit]:
        """The `k` pending records nearest `vector` (cosine distance, exact), after dropping the ones
        `held` says the index has."""
        with self._lock:
            self._catch_up()
            if self._pending:
                present = held(list(self._pending))
                for id_ in present or ():
                    self._pending.pop(id_, None)
            todo = [id_ for id_, p in self._pending.items() if p.vector is None]
            if todo:
                rows = unit_rows(np.asarray(self.embedder.embed([self._pending[i].document for i in todo]), np.float32))
                for id_, row in zip(todo, rows, strict=True):
                    self._pending[id_].vector = row
            pending = list(self._pending.items())
        if not pending:
            return []
        q = unit_rows(np.asarray(vector, dtype=np.float32).reshape(1, -1))[0]
        matrix = np.stack([p.vector for _, p in pending])
        if matrix.shape[1] != q.shape[0]:
            return []  # another model's vectors: the index answers alone
        similarity = matrix @ q
        order = np.argsort(-similarity, kind="stable")[:k]
        return [
            VectorHit(pending[i][0], 1.0 - float(similarity[i]), dict(pending[i][1].metadata), pending[i][1].document)
            for i in order
        ]

    @property
    def pending(self) -> int:
        return len(self._pending)

    def _catch_up(self) -> None:
        """Follow what any process appended since; only records not seen yet go through the corpus SQL (this
        process's own were added when they were journaled)."""
        records, self._cursor = self.log.tail(self._cursor)
        self._follow(records)

    def _follow(self, records: Sequence[PlaybookRecord]) -> None:
        for record in records:
            row = playbook_row(record)  # the playbook id is a hash of the record: computed once here
            if row["playbook_id"] not in self._known:
                self._known.add(str(row["playbook_id"]))
                id_, text, meta = _document_of(row)
                self._pending.setdefault(id_, _Pending(text, meta))


def pending_document(record: PlaybookRecord) -> tuple[str, str, dict[str, Any]]:
    """The record's `playbooks` corpus document as search reads it: (id, text, metadata), the same as the
    corpus SQL makes (PLAYBOOKS.sql) less the content hash, which only index writes compare."""
    return _document_of(playbook_row(record))


def _document_of(row: dict[str, str | None]) -> tuple[str, str, dict[str, Any]]:
    meta = {"entity_id": row["playbook_id"], **{c: row[c] for c in PLAYBOOKS.metadata}}
    return f"playbook-{row['playbook_id']}", str(row["query"]), {k: v for k, v in meta.items() if v is not None}


def playbook_documents(records: Sequence[PlaybookRecord]) -> pa.Table:
    """The `playbooks` corpus documents of `records`, by the corpus's own SQL (ids, texts and metadata as
    the `corpus_documents` asset makes them)."""
    conn = scratch_cursor()
    try:
        conn.register("playbook_memory", playbook_table(records))
        return conn.sql(PLAYBOOKS.sql).to_arrow_table()
    finally:
        conn.close()
