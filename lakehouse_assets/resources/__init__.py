"""Dagster resources. Each is a thin, typed configuration over a core object."""

from lakehouse_assets.resources.chat import ChatResource
from lakehouse_assets.resources.embedder import EmbedderResource
from lakehouse_assets.resources.lake import LakeResource
from lakehouse_assets.resources.vector_store import VectorStoreResource

__all__ = ["ChatResource", "EmbedderResource", "LakeResource", "VectorStoreResource"]
