"""What goes wrong in retrieval, as the errors a caller can act on."""

from __future__ import annotations

from lakehouse_assets.core.errors import LakehouseError


class SearchError(LakehouseError, ValueError):
    """A search request that cannot run as asked (unknown corpus or field, bad filter, k out of range)."""

    status = 400
    code = "invalid_search"


class ConstraintError(LakehouseError, ValueError):
    """A constraint that cannot apply: an unknown field, or an operator the field's kind does not take."""

    status = 400
    code = "invalid_search"
