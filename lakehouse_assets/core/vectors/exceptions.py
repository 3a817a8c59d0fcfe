"""What goes wrong with vector indexes, as errors a caller can act on."""

from __future__ import annotations

from lakehouse_assets.core.errors import LakehouseError


class VectorStoreError(LakehouseError):
    status = 503
    code = "vector_store_unavailable"


class IndexNotFound(VectorStoreError, KeyError):
    status = 404
    code = "not_found"

    def __str__(self) -> str:
        return f"no vector index named {self.args[0]!r}"


class IndexConflict(VectorStoreError):
    """An index exists with other settings, or vectors of another model/dimension were offered."""

    status = 409
    code = "index_conflict"


class InvalidIndexRequest(VectorStoreError, ValueError):
    status = 400
    code = "invalid_request"


class IndexUnavailable(VectorStoreError):
    """Chroma failed to read an index after retries (a segment not flushed yet while it is written, a
    server restarting): the caller answers from what it holds, or says 503 and when to retry."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(name, reason)
        self.name, self.reason = name, reason

    def __str__(self) -> str:
        return f"vector index {self.name!r} could not be read just now ({self.reason}); try again shortly"
