"""The resources every asset, check and job of the code location shares, built from one settings object."""

from __future__ import annotations

from typing import Any

from dagster_duckdb import DuckDBResource

from lakehouse_assets.core.settings import LakehouseSettings
from lakehouse_assets.resources.chat import ChatResource
from lakehouse_assets.resources.embedder import EmbedderResource
from lakehouse_assets.resources.lake import LakeResource
from lakehouse_assets.resources.vector_store import VectorStoreResource


def shared_resources(settings: LakehouseSettings) -> dict[str, Any]:
    return {
        "lake": LakeResource.from_settings(settings),
        "duckdb": DuckDBResource(database=":memory:"),
        "embedder": EmbedderResource.from_settings(settings),
        "instant_embedder": EmbedderResource.instant_from_settings(settings),
        "vector_store": VectorStoreResource.from_settings(settings),
        "chat": ChatResource.from_settings(settings),
    }
