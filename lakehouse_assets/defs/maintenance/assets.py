"""Lake maintenance as assets: every night the small files of any version are compacted, then the snapshots
past the retention setting expire and the files nothing references any more are deleted."""

from dataclasses import asdict, fields

import dagster as dg

from lakehouse_assets.core.lake.maintenance import Compacted, Expired, compact, expire
from lakehouse_assets.defs.pools import CATALOG_WRITERS
from lakehouse_assets.metadata import table_metadata
from lakehouse_assets.resources import LakeResource


@dg.asset(
    kinds={"iceberg"},
    automation_condition=dg.AutomationCondition.on_cron("0 3 * * *", cron_timezone="UTC"),
    pool=CATALOG_WRITERS,
)
def lake_compaction(lake: LakeResource) -> dg.MaterializeResult:
    """Rewrites each live version held in many data files (appends by other engines, daily partitions) into
    one file, under the same version number. Setting: `compaction_min_files`."""
    done = compact(lake.open(), min_files=lake.settings().compaction_min_files)
    return dg.MaterializeResult(
        metadata={
            "tables_compacted": dg.MetadataValue.int(len(done)),
            "files_before": dg.MetadataValue.int(sum(c.files_before for c in done)),
            "files_after": dg.MetadataValue.int(sum(c.files_after for c in done)),
            "bytes_before": dg.MetadataValue.int(sum(c.bytes_before for c in done)),
            "bytes_after": dg.MetadataValue.int(sum(c.bytes_after for c in done)),
            "compacted": table_metadata([asdict(c) for c in done], [f.name for f in fields(Compacted)]),
        }
    )


@dg.asset(
    deps=[lake_compaction],
    kinds={"iceberg"},
    automation_condition=dg.AutomationCondition.eager(),
    pool=CATALOG_WRITERS,
)
def lake_snapshot_expiry(lake: LakeResource) -> dg.MaterializeResult:
    """Expires the snapshots of versions older than each dataset's newest `version_retention` (0 keeps every
    version) and those a compaction superseded, then deletes the manifests and data files no kept snapshot
    references. `name__vN` answers for every version kept."""
    keep = lake.settings().version_retention
    done = expire(lake.open(), keep=keep)
    return dg.MaterializeResult(
        metadata={
            "version_retention": dg.MetadataValue.int(keep),
            "tables_expired": dg.MetadataValue.int(len(done)),
            "snapshots_before": dg.MetadataValue.int(sum(e.snapshots_before for e in done)),
            "snapshots_after": dg.MetadataValue.int(sum(e.snapshots_after for e in done)),
            "files_deleted": dg.MetadataValue.int(sum(e.files_deleted for e in done)),
            "bytes_reclaimed": dg.MetadataValue.int(sum(e.bytes_reclaimed for e in done)),
            "expired": table_metadata([asdict(e) for e in done], [f.name for f in fields(Expired)]),
        }
    )
