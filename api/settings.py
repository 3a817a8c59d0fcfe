"""API settings: the shared lakehouse settings plus what only the HTTP service needs."""

from __future__ import annotations

from pydantic import Field

from lakehouse_assets.core.settings import LakehouseSettings


class ApiSettings(LakehouseSettings):
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    warm_embedder: bool = Field(default=True, description="Load the embedding model at start-up, not on first use.")
    report_to_dagster: bool = Field(
        default=True,
        description="Record online ingests as materializations in the Dagster instance (DAGSTER_HOME).",
    )
