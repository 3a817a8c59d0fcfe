"""Dagster materialization metadata, shared by the assets (`defs/`) and the API's event reports
(`api/dagster_events.py`), so a dataset version looks the same in the UI whichever way it arrived."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from lakehouse_assets.core.lake.catalog import Manifest
from lakehouse_assets.core.lake.preview import preview_rows
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
        "columns_added": dg.MetadataValue.text(", ".join(manifest.current.columns_added) or "none"),
        "preview": table_metadata(preview_rows(lake, manifest), [c.name for c in manifest.schema]),
    }


def _table_value(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    return str(v) if isinstance(v, str) else v  # a StrEnum (a verdict) as its text


def table_metadata(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> dg.MetadataValue:
    """Rows as a table the UI renders, sorts and shows in full (numbers as numbers, nulls empty)."""
    kinds = {}
    for c in columns:
        values = [r.get(c) for r in rows if r.get(c) is not None]
        if values and all(isinstance(v, bool) for v in values):
            kinds[c] = "bool"
        elif values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            kinds[c] = "int"
        elif values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            kinds[c] = "float"
        else:
            kinds[c] = "string"
    schema = dg.TableSchema(columns=[dg.TableColumn(c, kinds[c]) for c in columns])
    records = [dg.TableRecord({c: _table_value(r.get(c)) for c in columns}) for r in rows]
    return dg.MetadataValue.table(records=records, schema=schema)
