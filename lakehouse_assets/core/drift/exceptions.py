"""What goes wrong in drift scoring."""

from __future__ import annotations


class DriftError(ValueError):
    """The drift of something cannot be scored as configured (e.g. a baseline version that does not exist)."""
