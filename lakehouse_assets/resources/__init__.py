"""Dagster resources. Each is a thin, typed configuration over a core object."""

from lakehouse_assets.resources.lake import LakeResource

__all__ = ["LakeResource"]
