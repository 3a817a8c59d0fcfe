"""Recording playbooks online: log first, then index the new records at once, through the same corpus
SQL the `corpus_documents` asset runs, so the next asset run finds them already embedded (same
content hash) and skips them."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from lakehouse_assets.core.corpora import PLAYBOOKS
from lakehouse_assets.core.embedder import Embedder
from lakehouse_assets.core.indexing import IndexSync, sync_index
from lakehouse_assets.core.playbooks import PlaybookLog, PlaybookRecord, playbook_table
from lakehouse_assets.core.vectors import VectorStore


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
    conn = duckdb.connect()
    try:
        conn.register("playbook_memory", playbook_table(records))
        documents = conn.sql(PLAYBOOKS.sql).to_arrow_table()
    finally:
        conn.close()
    return sync_index(
        PLAYBOOKS.index, documents, PLAYBOOKS.metadata, embedder=embedder, store=store, hnsw=hnsw, delete_missing=False
    )
