"""Keeping the lake's Iceberg tables small: compaction of a version spread over many data files, and snapshot
expiry by a retention setting, deleting the files no kept snapshot references.

What `name__vN` and the version history promise is kept: compaction rewrites a version's files into one
under the same version number (the history shows one entry, now served by one file); expiry drops only the
versions older than the newest `keep` (and snapshots a compaction superseded), never the live one.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace

import pyarrow.dataset as pads
import pyarrow.parquet as pq
from pyiceberg.table import Table

from lakehouse_assets.core.lake import iceberg
from lakehouse_assets.core.lake.handle import Lake
from lakehouse_assets.core.lake.register import object_key_for, sha256_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Compacted:
    name: str
    version: int
    files_before: int
    files_after: int
    bytes_before: int
    bytes_after: int


@dataclass(frozen=True)
class Expired:
    name: str
    versions_before: int
    versions_after: int
    snapshots_before: int
    snapshots_after: int
    files_deleted: int
    bytes_reclaimed: int


def compact(lake: Lake, *, min_files: int = 2) -> list[Compacted]:
    """Rewrite the live version of every table whose current snapshot holds `min_files` data files or more
    into one Parquet file, committed as a snapshot of the same version; tables partitioned by day keep their
    file per day. A writer that commits meanwhile
    wins: that table is left for the next run."""
    lake.catalog.refresh()
    done = []
    for manifest in lake.catalog.list():
        files = manifest.current.data_files
        if len(files) < min_files:
            continue
        if not lake.catalog.table(manifest.name).spec().is_unpartitioned():
            continue  # a day table: one file per day by design (core/lake/partitions.py)
        staged = lake.scratch() / f"compact-{uuid.uuid4().hex}.parquet"
        try:
            located = [lake.storage.arrow_location(key) for key in files]
            dataset = pads.dataset([loc for _, loc in located], filesystem=located[0][0], format="parquet")
            with pq.ParquetWriter(staged, dataset.schema, compression="snappy") as writer:
                for batch in dataset.to_batches():
                    writer.write_batch(batch)
            key = object_key_for(manifest.name, sha256_file(staged))
            version = replace(manifest.current, object_key=key, files=(key,), byte_size=staged.stat().st_size)
            lake.storage.put_file(key, staged)
            table = lake.catalog.table(manifest.name)
            if table.metadata.current_snapshot().snapshot_id != manifest.current.snapshot_id:
                continue  # a new version arrived since the listing
            try:
                iceberg.commit_version(table, lake.storage.location(key), version, manifest.schema, added=False)
            except iceberg.CONFLICTS:
                log.info("compaction of %s lost the race to a writer; left for the next run", manifest.name)
                continue
        finally:
            staged.unlink(missing_ok=True)
        before = sum(info.size for k in files if (info := lake.storage.info(k)) is not None)
        done.append(Compacted(manifest.name, manifest.version, len(files), 1, before, version.byte_size))
    lake.catalog.refresh()
    return done


def expire(lake: Lake, *, keep: int) -> list[Expired]:
    """Drop every table's versions older than its newest `keep` (0 keeps them all) and the snapshots a
    compaction superseded, then delete the manifests and data files no kept snapshot references."""
    lake.catalog.refresh()
    done = []
    for manifest in lake.catalog.list():
        table = lake.catalog.table(manifest.name)
        kept_versions = manifest.versions[-keep:] if keep > 0 else manifest.versions
        kept = {v.snapshot_id for v in kept_versions}
        doomed = [s.snapshot_id for s in table.snapshots() if s.snapshot_id not in kept]
        if not doomed:
            continue
        before, snapshots_before = _referenced(lake, table), len(table.snapshots())
        try:
            table.maintenance.expire_snapshots().by_ids(doomed).commit()
        except iceberg.CONFLICTS:
            log.info("expiry of %s lost the race to a writer; left for the next run", manifest.name)
            continue
        table = lake.catalog.table(manifest.name)  # what a writer added meanwhile is referenced too
        unreferenced = before - _referenced(lake, table)
        reclaimed = 0
        for key in sorted(unreferenced):
            info = lake.storage.info(key)
            if info is not None:
                reclaimed += info.size
                lake.storage.delete(key)
        done.append(
            Expired(
                manifest.name,
                len(manifest.versions),
                len(kept_versions),
                snapshots_before,
                len(table.snapshots()),
                len(unreferenced),
                reclaimed,
            )
        )
    lake.catalog.refresh()
    return done


def _referenced(lake: Lake, table: Table) -> set[str]:
    """The keys of every manifest list, manifest and data file the table's snapshots reference."""
    io, keys = table.io, set()
    for snapshot in table.snapshots():
        keys.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(io):
            keys.add(manifest.manifest_path)
            for entry in manifest.fetch_manifest_entry(io, discard_deleted=True):
                keys.add(entry.data_file.file_path)
    return {key for location in keys if (key := lake.storage.key_at(location)) is not None}
