"""Checks on each dataset partition: the stored object matches its manifest, and it has rows."""

import dagster as dg
import pyarrow.parquet as pq

from lakehouse_assets.core.lake.arrow_types import columns_of
from lakehouse_assets.core.lake.catalog import format_schema, schema_fingerprint
from lakehouse_assets.defs.ingest.partitions import dataset_partitions
from lakehouse_assets.resources import LakeResource


@dg.asset_check(asset="datasets", blocking=True, partitions_def=dataset_partitions)
def schema_fingerprint_unchanged(context: dg.AssetCheckExecutionContext, lake: LakeResource) -> dg.AssetCheckResult:
    """The live Parquet object's schema hashes to the fingerprint every version was registered with.

    Blocking: a dataset whose stored object disagrees with its manifest feeds nothing downstream.
    """
    handle = lake.open()
    storage, manifest = handle.storage, handle.catalog.get(context.partition_key)
    fs, path = storage.arrow_location(manifest.object_key)
    with fs.open_input_file(path) as f:
        stored = columns_of(pq.read_schema(f))
    stored_fp = schema_fingerprint(stored)
    drifted_versions = [v.version for v in manifest.versions if not storage.exists(v.object_key)]
    passed = stored_fp == manifest.fingerprint and not drifted_versions
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None if passed else "the stored object does not match the catalog's schema",
        metadata={
            "manifest_fingerprint": manifest.fingerprint,
            "stored_fingerprint": stored_fp,
            "stored_schema": format_schema(stored),
            "versions_missing_objects": dg.MetadataValue.json(drifted_versions),
        },
    )


@dg.asset_check(asset="datasets", partitions_def=dataset_partitions)
def dataset_not_empty(context: dg.AssetCheckExecutionContext, lake: LakeResource) -> dg.AssetCheckResult:
    """The live version has at least one row."""
    manifest = lake.open().catalog.get(context.partition_key)
    return dg.AssetCheckResult(
        passed=manifest.row_count > 0,
        metadata={"rows": dg.MetadataValue.int(manifest.row_count), "version": manifest.version},
    )
