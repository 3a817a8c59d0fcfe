"""What goes wrong in drift scoring."""

from __future__ import annotations

from lakehouse_assets.core.errors import LakehouseError


class DriftError(LakehouseError, ValueError):
    """The drift of something cannot be scored as configured (e.g. a baseline version that does not exist)."""

    status = 400
    code = "drift_error"
