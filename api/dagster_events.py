"""Reports online ingests to the Dagster instance, so the UI is the one place every version shows.

The instance is the one DAGSTER_HOME names (the same the webserver and daemon use). Dagster is
imported on first use only: the API starts and serves without it when reporting is off.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from lakehouse_assets.core.lake.catalog import Manifest
from lakehouse_assets.core.lake.storage import LakeStorage

log = logging.getLogger(__name__)

DATASETS_ASSET = "datasets"
DATASETS_PARTITIONS = "datasets"


class DagsterReporter:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and bool(os.environ.get("DAGSTER_HOME"))
        self._instance: Any = None
        self._lock = threading.Lock()

    def _get_instance(self) -> Any:
        with self._lock:
            if self._instance is None:
                import dagster as dg

                self._instance = dg.DagsterInstance.get()
            return self._instance

    def warm(self) -> None:
        """Open the instance ahead of the first report (importing Dagster takes seconds)."""
        if self.enabled:
            threading.Thread(target=self._warm, name="dagster-instance", daemon=True).start()

    def _warm(self) -> None:
        try:
            self._get_instance()
        except Exception:
            log.exception("could not open the Dagster instance at DAGSTER_HOME; online ingests will not be reported")

    def report_ingest(self, lake: LakeStorage, manifest: Manifest, created: bool) -> None:
        """Record a materialization of the `datasets` partition; never fails the request."""
        if not self.enabled or not created:
            return
        try:
            import dagster as dg

            from lakehouse_assets.metadata import dataset_metadata

            instance = self._get_instance()
            if not instance.has_dynamic_partition(DATASETS_PARTITIONS, manifest.name):
                instance.add_dynamic_partitions(DATASETS_PARTITIONS, [manifest.name])
            instance.report_runless_asset_event(
                dg.AssetMaterialization(
                    asset_key=DATASETS_ASSET,
                    partition=manifest.name,
                    description="online ingest through POST /v1/ingest",
                    metadata=dataset_metadata(lake, manifest, created=created),
                )
            )
        except Exception:
            log.exception("could not report the ingest of %s to Dagster", manifest.name)

    def close(self) -> None:
        with self._lock:
            if self._instance is not None:
                self._instance.dispose()
                self._instance = None
