"""What goes wrong in retrieval, as the errors a caller can act on."""

from __future__ import annotations


class SearchError(ValueError):
    """A search request that cannot run as asked (unknown corpus or field, bad filter, k out of range)."""


class ConstraintError(ValueError):
    """A constraint that cannot apply: an unknown field, or an operator the field's kind does not take."""
