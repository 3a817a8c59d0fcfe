"""Chroma reads retried over the moments an index is being written."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from lakehouse_assets.core.vectors.exceptions import IndexUnavailable

READ_ATTEMPTS = 3
READ_BACKOFF_SECONDS = 0.05  # doubled per retry: 50 ms, then 100 ms


def read_retrying(name: str, action: Callable[[], Any]) -> Any:
    """Run one Chroma read, retrying its internal errors: while an index is written, a reader can catch a
    segment before it is on disk ("Error creating hnsw segment reader: Nothing found on disk"); the same
    read a moment later succeeds. After READ_ATTEMPTS, IndexUnavailable."""
    from chromadb.errors import InternalError

    delay = READ_BACKOFF_SECONDS
    for attempt in range(READ_ATTEMPTS):
        try:
            return action()
        except InternalError as e:
            if attempt == READ_ATTEMPTS - 1:
                raise IndexUnavailable(name, str(e)) from None
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")
