"""One handle on the lake: the storage objects live in, the catalog of their versions and the local scratch
folder files are staged in. The API builds it once in its lifespan and a Dagster run once in `LakeResource`;
core functions take it whole, so the three never travel apart or disagree about which lake they mean."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from lakehouse_assets.core.lake.catalog import Catalog, Manifest
from lakehouse_assets.core.lake.duck import mount, parquet_source
from lakehouse_assets.core.lake.storage import LakeStorage, open_storage
from lakehouse_assets.core.settings import LakehouseSettings


@dataclass(frozen=True)
class Lake:
    storage: LakeStorage
    catalog: Catalog
    scratch_dir: Path

    @classmethod
    def open(cls, settings: LakehouseSettings) -> Lake:
        """The lake the settings describe (S3 when a bucket is set, else the local folder)."""
        storage = open_storage(settings)
        return cls(storage, Catalog(storage, settings.catalog_uri), settings.scratch_dir)

    def scratch(self) -> Path:
        """The scratch folder, created on first use."""
        self.scratch_dir.mkdir(parents=True, exist_ok=True)
        return self.scratch_dir

    def mount(self, conn: duckdb.DuckDBPyConnection, view: str, files: str | Sequence[str]) -> None:
        """Expose the Parquet objects at `files` (a dataset version's data files) as `view` on `conn`."""
        mount(conn, view, parquet_source(self.storage, files))

    def mount_live(self, conn: duckdb.DuckDBPyConnection, name: str, *, view: str | None = None) -> Manifest:
        """Expose dataset `name`'s live version, as of now in storage, as `view` (default: its name).
        DatasetNotFound when there is none."""
        self.catalog.refresh()
        manifest = self.catalog.get(name)
        self.mount(conn, view or name, manifest.data_files)
        return manifest

    def mount_if_exists(self, conn: duckdb.DuckDBPyConnection, name: str) -> Manifest | None:
        """`mount_live`, or None (and nothing mounted) while dataset `name` does not exist."""
        self.catalog.refresh()
        manifest = self.catalog.find(name)
        if manifest is not None:
            self.mount(conn, name, manifest.data_files)
        return manifest
