"""Daily partitions: a table written a day at a time (iterate sessions, evidence, scores) is an Iceberg table
partitioned by identity of its day column, one data file per day. Writing a day is one overwrite snapshot that
removes that day's file and adds the new one: the other days' files stay where they are, unread and unwritten,
and engines that filter on the day skip the rest by partition.

A table written before its days were partitions holds several days per file; the first day written to it
splits those files into one per day (once), in the same snapshot that evolves the partition spec.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import parquet_file_to_data_file
from pyiceberg.manifest import DataFile
from pyiceberg.partitioning import PartitionSpec
from pyiceberg.table import Table, Transaction
from pyiceberg.table.refs import MAIN_BRANCH
from pyiceberg.table.snapshots import Operation
from pyiceberg.transforms import IdentityTransform
from pyiceberg.typedef import Record
from pyiceberg.types import DateType

from lakehouse_assets.core.lake import iceberg
from lakehouse_assets.core.lake.manifest import Column, DatasetVersion

if TYPE_CHECKING:
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.table.metadata import TableMetadata
    from pyiceberg.table.snapshots import Snapshot

    from lakehouse_assets.core.lake.storage import LakeStorage

FILES_ADDED = iceberg.PROP + "files-added"
FILES_REMOVED = iceberg.PROP + "files-removed"
_PARTITION = 3  # DataFile's partition position: pyiceberg exposes it read-only


class StaleLayout(Exception):
    """The table's files from before day partitions changed since they were split: split them again."""


@dataclass(frozen=True)
class DayFile:
    """A Parquet file in the lake holding exactly the rows of `day`."""

    key: str
    location: str
    day: str


@dataclass(frozen=True)
class Layout:
    """What a day's write has to replace in the table's current snapshot."""

    day_keys: tuple[str, ...]  # the files holding the day now
    unsorted: tuple[str, ...]  # files from before the table was partitioned by day (several days each)


def files_hash(keys: Sequence[str]) -> str:
    """A version's content hash when its rows are spread over several files: their content-addressed keys."""
    return hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()


def _day_position(table_spec: PartitionSpec, source_id: int | None) -> int | None:
    """Where the identity partition of the day column sits in a spec's partition tuple (None: not in it)."""
    for position, field in enumerate(table_spec.fields):
        if field.source_id == source_id and isinstance(field.transform, IdentityTransform):
            return position
    return None


def _partition_value(tx: Transaction, column: str, day: str) -> object:
    field = tx.table_metadata.schema().find_field(column)
    if isinstance(field.field_type, DateType):
        return (date.fromisoformat(day) - date(1970, 1, 1)).days
    return day


def layout(table: Table | None, storage: LakeStorage, column: str, day: str) -> Layout:
    """The keys of the files that hold `day` and of the files not partitioned by day, in `table`'s current
    snapshot (a table that does not exist yet holds neither)."""
    if table is None or (snapshot := table.metadata.current_snapshot()) is None:
        return Layout((), ())
    of_day, unsorted = _classify(table.metadata, table.io, snapshot, column, day)
    return Layout(_keys(storage, of_day), _keys(storage, unsorted))


def _keys(storage: LakeStorage, files: Sequence[DataFile]) -> tuple[str, ...]:
    return tuple(sorted(storage.key_at(f.file_path) or f.file_path for f in files))


def _classify(
    metadata: TableMetadata, io: FileIO, snapshot: Snapshot, column: str, day: str
) -> tuple[list[DataFile], list[DataFile]]:
    """(the files of `day`, the files of no day partition) in `snapshot`."""
    source_id = metadata.schema().find_field(column).field_id
    specs = metadata.specs()
    of_day: list[DataFile] = []
    unsorted: list[DataFile] = []
    for manifest in snapshot.manifests(io):
        position = _day_position(specs[manifest.partition_spec_id], source_id)
        for entry in manifest.fetch_manifest_entry(io, discard_deleted=True):
            data_file = entry.data_file
            if position is None:
                unsorted.append(data_file)
            elif _same_day(data_file.partition[position], day):
                of_day.append(data_file)
    return of_day, unsorted


def _same_day(value: object, day: str) -> bool:
    if isinstance(value, int):
        return date(1970, 1, 1).toordinal() + value == date.fromisoformat(day).toordinal()
    return value == day


def create_with_day(
    catalog: SqlCatalog,
    io: FileIO,
    storage: LakeStorage,
    name: str,
    column: str,
    files: Sequence[DayFile],
    version: DatasetVersion,
    schema: tuple[Column, ...],
) -> Table:
    """Create table `name`, partitioned by `column`, with `files` as its first snapshot, in one commit."""
    tx = iceberg.create_transaction(catalog, io, name, files[0].location)
    _stage(tx, io, storage, column, files, files[0].day, version, schema, expected_unsorted=())
    return tx.commit_transaction()


def commit_day(
    table: Table,
    column: str,
    files: Sequence[DayFile],
    day: str,
    version: DatasetVersion,
    schema: tuple[Column, ...],
    *,
    expected_unsorted: tuple[str, ...],
    storage: LakeStorage,
) -> Table:
    """One snapshot on `table`: the files of `day` and the unsorted files out, `files` in (the day's file, and
    the unsorted files split by day). StaleLayout when the unsorted files are not `expected_unsorted`;
    CommitFailedException when another writer committed since `table` was loaded. Nothing changes then."""
    tx = iceberg.CachingTransaction(table)
    _stage(tx, table.io, storage, column, files, day, version, schema, expected_unsorted=expected_unsorted)
    return tx.commit_transaction()


def _stage(
    tx: Transaction,
    io: FileIO,
    storage: LakeStorage,
    column: str,
    files: Sequence[DayFile],
    day: str,
    version: DatasetVersion,
    schema: tuple[Column, ...],
    *,
    expected_unsorted: tuple[str, ...],
) -> None:
    metadata = tx.table_metadata
    snapshot = metadata.current_snapshot()
    doomed: list[DataFile] = []
    if snapshot is not None:
        of_day, unsorted = _classify(metadata, io, snapshot, column, day)
        keys = _keys(storage, unsorted)
        if keys != expected_unsorted:
            raise StaleLayout(f"unsorted files {keys} != {expected_unsorted}")
        doomed = of_day + unsorted
    source_id = metadata.schema().find_field(column).field_id
    if _day_position(metadata.spec(), source_id) is None:
        with tx.update_spec() as update:
            update.add_identity(column)
    position = _day_position(tx.table_metadata.spec(), source_id)
    removed = list(_keys(storage, doomed))
    props = {
        **iceberg.version_properties(version, schema),
        FILES_ADDED: json.dumps(sorted(f.key for f in files)),
        FILES_REMOVED: json.dumps(removed),
    }
    del props[iceberg.PROP + "object-key"], props[iceberg.PROP + "row-count"], props[iceberg.PROP + "byte-size"]
    operation = Operation.OVERWRITE if snapshot is not None else Operation.APPEND
    replace = iceberg.Replace(operation=operation, transaction=tx, io=io, branch=MAIN_BRANCH, snapshot_properties=props)
    with replace as op:
        for data_file in doomed:
            op.delete_data_file(data_file)
        for f in files:
            data_file = parquet_file_to_data_file(io, tx.table_metadata, f.location)
            values = [None] * len(tx.table_metadata.spec().fields)
            values[position] = _partition_value(tx, column, f.day)  # type: ignore[index]
            data_file[_PARTITION] = Record(*values)  # a file of no rows has no statistics to derive it from
            op.append_data_file(data_file)
