from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
from pydantic import Field, PrivateAttr

from lakehouse_assets.core.ingest.csv import IngestLimits
from lakehouse_assets.core.lake.handle import Lake
from lakehouse_assets.core.lake.landing import landing_key, stable_copy
from lakehouse_assets.core.settings import LakehouseSettings, load_settings


class LakeResource(dg.ConfigurableResource):
    """The lake (local folder or S3-compatible bucket), its catalog and the landing zone."""

    home: str = Field(default=".lakehouse", description="Local lake folder and scratch space.")
    s3_bucket: str | None = Field(default=None, description="Set to keep the lake in this bucket.")
    s3_prefix: str = ""
    s3_endpoint_url: str | None = Field(default=None, description="For MinIO or another S3-compatible store.")
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    max_ingest_bytes: int = 1 << 30

    @classmethod
    def from_settings(cls, settings: LakehouseSettings) -> LakeResource:
        """Built from the shared settings; credentials stay environment variables in the UI."""

        def secret(var: str) -> dg.EnvVar | None:
            return dg.EnvVar(var) if os.environ.get(var) else None

        return cls(
            home=str(settings.home),
            s3_bucket=settings.s3_bucket,
            s3_prefix=settings.s3_prefix,
            s3_endpoint_url=settings.s3_endpoint_url,
            s3_region=settings.s3_region,
            s3_access_key_id=secret("LAKEHOUSE_S3_ACCESS_KEY_ID"),
            s3_secret_access_key=secret("LAKEHOUSE_S3_SECRET_ACCESS_KEY"),
            max_ingest_bytes=settings.max_ingest_bytes,
        )

    _settings: LakehouseSettings | None = PrivateAttr(default=None)
    _lake: Lake | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Once per run (per step process): every asset of it sees the same settings and the same catalog.
        self._settings = self._read_settings()
        self._lake = Lake.open(self._settings)

    def settings(self) -> LakehouseSettings:
        """The deployment's settings (environment, env file) with this resource's configuration on top."""
        return self._settings if self._settings is not None else self._read_settings()

    def _read_settings(self) -> LakehouseSettings:
        return load_settings(**self.model_dump(exclude_unset=True, exclude_none=True))  # None: not configured

    def open(self) -> Lake:
        """The run's lake handle (storage, catalog, scratch); outside a run, a new one."""
        return self._lake if self._lake is not None else Lake.open(self.settings())

    def limits(self) -> IngestLimits:
        return IngestLimits(max_bytes=self.max_ingest_bytes)

    @contextlib.contextmanager
    def landing_file(self, name: str) -> Iterator[Path]:
        """A private snapshot of the landing-zone CSV for dataset `name`: a copy of one consistent version of the
        local file (a user replacing or rewriting it mid-run cannot mix two versions), or a download from S3."""
        lake = self.open()
        storage, key = lake.storage, landing_key(name)
        snapshot = lake.scratch() / f"landing-{uuid.uuid4().hex}.csv"
        try:
            local = storage.local_path(key)
            if local is None:
                storage.download(key, snapshot)
            elif not local.is_file():
                raise FileNotFoundError(f"no landing file {key} in {storage.describe()}")
            else:
                stable_copy(local, snapshot)
            yield snapshot
        finally:
            snapshot.unlink(missing_ok=True)
