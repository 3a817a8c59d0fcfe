"""What goes wrong in retrieval, as the errors a caller can act on."""

from __future__ import annotations


class SearchError(ValueError):
    """A search request that cannot run as asked (unknown corpus or field, bad filter, k out of range)."""
