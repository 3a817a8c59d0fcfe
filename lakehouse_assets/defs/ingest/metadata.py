"""Materialization metadata for a catalog dataset, shared by the assets and the API's event reports,
so a version looks the same in the Dagster UI whichever way it arrived."""

from __future__ import annotations

import dagster as dg

from lakehouse_assets.core.lake.catalog import Manifest
from lakehouse_assets.core.lake.preview import preview_markdown
from lakehouse_assets.core.lake.storage import LakeStorage


def dataset_metadata(lake: LakeStorage, manifest: Manifest, *, created: bool) -> dict[str, dg.MetadataValue]:
    schema = dg.TableSchema(columns=[dg.TableColumn(c.name, c.type) for c in manifest.schema])
    return {
        "dagster/row_count": dg.MetadataValue.int(manifest.row_count),
        "version": dg.MetadataValue.int(manifest.version),
        "new_version": dg.MetadataValue.bool(created),
        "dagster/column_schema": dg.MetadataValue.table_schema(schema),
        "storage_key": dg.MetadataValue.text(manifest.object_key),
        "storage": dg.MetadataValue.url(f"{lake.describe().rstrip('/')}/{manifest.object_key}"),
        "bytes": dg.MetadataValue.int(manifest.byte_size),
        "fingerprint": dg.MetadataValue.text(manifest.fingerprint),
        "dataset_id": dg.MetadataValue.text(manifest.dataset_id),
        "preview": dg.MetadataValue.md(preview_markdown(lake, manifest)),
    }
