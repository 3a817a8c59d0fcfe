"""Materialize the landing zone through Dagster, in-process, recorded in the instance the UI reads.

Used by `lakehouse materialize` and `make demo`: every landing CSV becomes a `datasets` partition
(added if new) and is materialized with its checks; then the derived tables and the playbook memory
are rebuilt. Embeddings take minutes per 10,000 documents: `make demo` hands them to the Dagster daemon
as a backfill instead (it builds the rosters' documents here first: seconds, and search answers by
constraints and keywords from the moment the API is up).
"""

from __future__ import annotations

import dagster as dg

from lakehouse_assets.core.lake.landing import scan_landing
from lakehouse_assets.defs.ingest.partitions import dataset_partitions
from lakehouse_assets.resources import LakeResource


def materialize_landing(defs: dg.Definitions, instance: dg.DagsterInstance) -> list[dg.ExecuteInJobResult]:
    """Materialize every landing CSV's `datasets` partition, then the unpartitioned derived assets."""
    lake: LakeResource = defs.resources["lake"]
    names = sorted(scan_landing(lake.open().storage).files)
    missing = [n for n in names if not instance.has_dynamic_partition(dataset_partitions.name, n)]
    if missing:
        instance.add_dynamic_partitions(dataset_partitions.name, missing)
    assets = list(defs.assets or []) + list(defs.asset_checks or [])
    results = []
    for name in names:
        results.append(
            dg.materialize(
                assets,
                partition_key=name,
                instance=instance,
                resources=defs.resources,
                selection=dg.AssetSelection.assets("datasets"),
                raise_on_error=False,  # one bad landing file must not stop the others
            )
        )
    derived = dg.AssetSelection.groups("warehouse") | dg.AssetSelection.assets("playbook_memory")
    results.append(
        dg.materialize(assets, instance=instance, resources=defs.resources, selection=derived, raise_on_error=False)
    )
    return results


def materialize_assets(
    defs: dg.Definitions, instance: dg.DagsterInstance, names: list[str], partition: str | None = None
) -> dg.ExecuteInJobResult:
    """Materialize assets by name (one `partition` of them, if partitioned), in-process, recorded in `instance`."""
    assets = list(defs.assets or []) + list(defs.asset_checks or [])
    return dg.materialize(
        assets,
        instance=instance,
        resources=defs.resources,
        selection=dg.AssetSelection.assets(*names),
        partition_key=partition,
        raise_on_error=False,
    )
