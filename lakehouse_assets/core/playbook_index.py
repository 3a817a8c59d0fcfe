"""Recording playbooks online: log first, then index the new records at once, through the same corpus
SQL the `corpus_documents` asset runs, so the next asset run finds them already embedded (same
content hash) and skips them. An index left by another model (the default embedder changed) is rebuilt
from the whole log, which holds every record, so no playbook drops out of search."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pyarrow as pa

from lakehouse_assets.core.corpora import PLAYBOOKS
from lakehouse_assets.core.embedder import Embedder
from lakehouse_assets.core.indexing import IndexSync, sync_index
from lakehouse_assets.core.playbooks import PlaybookLog, PlaybookRecord, playbook_table
from lakehouse_assets.core.vectors import IndexConflict, VectorStore


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
    try:
        return sync_index(
            PLAYBOOKS.index, _documents(records), PLAYBOOKS.metadata, embedder=embedder, store=store, hnsw=hnsw,
            delete_missing=False,
        )  # fmt: skip
    except IndexConflict:
        everything = _documents(log.replay().records)
        return sync_index(
            PLAYBOOKS.index, everything, PLAYBOOKS.metadata, embedder=embedder, store=store, hnsw=hnsw,
            replace_other_settings=True,
        )  # fmt: skip


def _documents(records: Sequence[PlaybookRecord]) -> pa.Table:
    """The `playbooks` corpus documents of `records`, by the corpus's own SQL."""
    conn = duckdb.connect()
    try:
        conn.register("playbook_memory", playbook_table(records))
        return conn.sql(PLAYBOOKS.sql).to_arrow_table()
    finally:
        conn.close()
