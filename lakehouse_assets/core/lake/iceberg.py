"""The lake's tables as Apache Iceberg tables in a SQL catalog (SQLite by default, Postgres by setting), so
Spark, Trino, DuckDB's `iceberg_scan`, Polars or Daft find them without this project.

A dataset version is one Iceberg snapshot: an overwrite that removes the previous version's data files and
adds the new version's Parquet file where ingest already wrote it (no rewrite). What the project's catalog
promises beyond Iceberg (version number, content hash, source, the schema as DuckDB names its types, the
columns a version added) rides in the snapshot summary under `lakehouse.*`; a snapshot another engine wrote
has none of it and still becomes a version.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.catalog.sql import IcebergTables, SqlCatalog
from pyiceberg.exceptions import CommitFailedException, TableAlreadyExistsError
from pyiceberg.io import FileIO, load_file_io
from pyiceberg.io.pyarrow import parquet_file_to_data_file, schema_to_pyarrow
from pyiceberg.manifest import DataFileContent, ManifestFile
from pyiceberg.table import Table, Transaction
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.refs import MAIN_BRANCH
from pyiceberg.table.snapshots import Operation, Snapshot
from pyiceberg.table.update.snapshot import _OverwriteFiles
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from lakehouse_assets.core.errors import LakehouseError
from lakehouse_assets.core.lake.arrow_types import columns_of
from lakehouse_assets.core.lake.manifest import (
    Column,
    DatasetVersion,
    Manifest,
    dataset_id_for,
    schema_fingerprint,
)

if TYPE_CHECKING:
    from lakehouse_assets.core.lake.storage import LakeStorage

log = logging.getLogger(__name__)

NAMESPACE = "lakehouse"
CATALOG_NAME = "lakehouse"
TABLES_PREFIX = "tables/"  # each table's metadata lives under tables/<name>/metadata in the lake
PROP = "lakehouse."  # snapshot summary and table properties this project writes
DATASET_ID = PROP + "dataset-id"
CONFLICTS = (CommitFailedException, TableAlreadyExistsError)
# pyiceberg's own retry would rebase a version onto a snapshot that raced it (keeping both versions' files
# under one number); the catalog retries from a fresh read instead.
TABLE_PROPERTIES = {"format-version": "2", "commit.retry.num-retries": "0"}

T = TypeVar("T")


class UnreadableTable(LakehouseError):
    """An Iceberg table in the catalog whose current snapshot this project cannot serve."""

    status = 500
    code = "unreadable_table"


def open_sql_catalog(uri: str, storage: LakeStorage) -> SqlCatalog:
    """The SQL catalog at `uri` with the lake's FileIO, its namespace created. Processes starting together
    may race to create the catalog's own tables and the namespace (pyiceberg checks, then inserts, so the
    loser of that race sees the unique key's IntegrityError): the loser retries and finds it there."""
    if uri.startswith("sqlite:///"):
        path = Path(uri.removeprefix("sqlite:///").split("?", 1)[0])
        path.parent.mkdir(parents=True, exist_ok=True)
        if "?" not in uri:
            uri += "?timeout=60"  # writers wait for SQLite's lock instead of failing at once
    properties = {"uri": uri, "warehouse": storage.location(TABLES_PREFIX.rstrip("/")), **storage.file_io_properties()}
    catalog = _retrying(lambda: SqlCatalog(CATALOG_NAME, **properties), OperationalError)
    _retrying(lambda: catalog.create_namespace_if_not_exists(NAMESPACE), (OperationalError, IntegrityError))
    return catalog


def _retrying(call: Callable[[], T], errors: type[Exception] | tuple[type[Exception], ...], tries: int = 5) -> T:
    for attempt in range(tries):
        try:
            return call()
        except errors:
            if attempt == tries - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def lake_io(storage: LakeStorage) -> FileIO:
    """pyiceberg's FileIO onto the lake (local files, or S3 with the lake's endpoint and credentials)."""
    return load_file_io(storage.file_io_properties(), storage.location(TABLES_PREFIX.rstrip("/")))


def identifier(name: str) -> tuple[str, str]:
    return (NAMESPACE, name)


def metadata_locations(catalog: SqlCatalog) -> dict[str, str]:
    """Every table of the namespace and where its current metadata file is: one query, so a refresh loads
    only the tables that changed."""
    with catalog.engine.connect() as conn:
        rows = conn.execute(
            select(IcebergTables.table_name, IcebergTables.metadata_location).where(
                IcebergTables.catalog_name == CATALOG_NAME, IcebergTables.table_namespace == NAMESPACE
            )
        )
        return {name: location for name, location in rows if location}


# -- reading ---------------------------------------------------------------------------------------


@dataclass
class SnapshotFiles:
    """Data-file keys of snapshots other engines wrote, read from their manifests once per snapshot."""

    storage: LakeStorage
    io: FileIO
    cache: dict[int, tuple[str, ...]]

    def of(self, name: str, snapshot: Snapshot) -> tuple[str, ...]:
        if snapshot.snapshot_id in self.cache:
            return self.cache[snapshot.snapshot_id]
        keys: list[str] = []
        for manifest in snapshot.manifests(self.io):
            for entry in manifest.fetch_manifest_entry(self.io, discard_deleted=True):
                data_file = entry.data_file
                if data_file.content != DataFileContent.DATA:
                    raise UnreadableTable(f"table {name!r} has delete files (snapshot {snapshot.snapshot_id})")
                key = self.storage.key_at(data_file.file_path)
                if key is None:
                    raise UnreadableTable(f"table {name!r} has a data file outside the lake: {data_file.file_path}")
                keys.append(key)
        self.cache[snapshot.snapshot_id] = files = tuple(sorted(keys))
        return files


def manifest_of(name: str, table: Table, files: SnapshotFiles) -> Manifest | None:
    """The project's view of `table`: one version per snapshot in the current snapshot's lineage, oldest
    first. None while the table has no snapshot."""
    metadata = table.metadata
    current = metadata.current_snapshot()
    if current is None:
        return None
    versions: list[DatasetVersion] = []
    for snapshot in lineage(metadata, current):
        version = _version_of(name, snapshot, files, previous=versions[-1] if versions else None)
        if versions and versions[-1].version == version.version:
            versions[-1] = version  # the same version rewritten (compaction): the newest files serve it
        else:
            versions.append(version)
    summary = current.summary
    schema_json = summary[PROP + "schema"] if summary is not None else None
    if schema_json:
        schema = tuple(Column(c["name"], c["type"]) for c in json.loads(schema_json))
    else:
        schema = columns_of(schema_to_pyarrow(table.schema()))
    dataset_id = metadata.properties.get(DATASET_ID) or dataset_id_for(name)
    return Manifest(name, dataset_id, schema, schema_fingerprint(schema), tuple(versions))


def lineage(metadata: TableMetadata, current: Snapshot) -> list[Snapshot]:
    """The snapshots that led to `current`, oldest first: its ancestors, and where one of them was expired
    (a superseded compaction, say: expiry leaves its child without a parent), the newest older snapshot
    before it, so the version history outlives expiry."""
    by_id = {s.snapshot_id: s for s in metadata.snapshots}
    chain = [current]
    while True:
        parent_id = chain[-1].parent_snapshot_id
        parent = by_id.get(parent_id) if parent_id is not None else None
        if parent is None:
            older = [s for s in metadata.snapshots if (s.sequence_number or 0) < (chain[-1].sequence_number or 0)]
            if not older:
                break
            parent = max(older, key=lambda s: s.sequence_number or 0)
        chain.append(parent)
    return chain[::-1]


def _version_of(
    name: str, snapshot: Snapshot, files: SnapshotFiles, *, previous: DatasetVersion | None
) -> DatasetVersion:
    summary = snapshot.summary
    props = {} if summary is None else summary.additional_properties
    created = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(snapshot.timestamp_ms / 1000))
    after = previous.version if previous is not None else 0
    if PROP + "files-added" in props:  # a day written (core/lake/partitions.py): the parent's files, changed
        if previous is not None and previous.snapshot_id == snapshot.parent_snapshot_id:
            removed = set(json.loads(props[PROP + "files-removed"]))
            keys = tuple(sorted({*previous.data_files} - removed | set(json.loads(props[PROP + "files-added"]))))
        else:  # its parent expired: its own manifests say
            keys = files.of(name, snapshot)
        return DatasetVersion(
            version=int(props[PROP + "version"]),
            object_key=keys[0] if keys else "",
            content_hash=props[PROP + "content-hash"],
            row_count=int(props.get("total-records", 0)),
            byte_size=int(props.get("total-files-size", 0)),
            created_at=props.get(PROP + "created-at", created + "Z"),
            source=props.get(PROP + "source", ""),
            columns_added=tuple(json.loads(props.get(PROP + "columns-added", "[]"))),
            snapshot_id=snapshot.snapshot_id,
            files=keys,
        )
    if PROP + "object-key" in props:
        key = props[PROP + "object-key"]
        return DatasetVersion(
            version=int(props[PROP + "version"]),
            object_key=key,
            content_hash=props[PROP + "content-hash"],
            row_count=int(props[PROP + "row-count"]),
            byte_size=int(props[PROP + "byte-size"]),
            created_at=props.get(PROP + "created-at", created + "Z"),
            source=props.get(PROP + "source", ""),
            columns_added=tuple(json.loads(props.get(PROP + "columns-added", "[]"))),
            snapshot_id=snapshot.snapshot_id,
            files=(key,),
        )
    keys = files.of(name, snapshot)
    version = int(props[PROP + "version"]) if PROP + "version" in props else after + 1
    operation = summary.operation.value if summary is not None else "unknown"
    return DatasetVersion(
        version=version,
        object_key=keys[0] if keys else "",
        content_hash=f"iceberg-snapshot-{snapshot.snapshot_id}",
        row_count=int(props.get("total-records", 0)),
        byte_size=int(props.get("total-files-size", 0)),
        created_at=created + "Z",
        source=props.get(PROP + "source", f"iceberg:{operation}"),
        snapshot_id=snapshot.snapshot_id,
        files=keys,
    )


# -- writing ---------------------------------------------------------------------------------------


def version_properties(version: DatasetVersion, schema: tuple[Column, ...]) -> dict[str, str]:
    """What the snapshot summary carries for the project (strings, as Iceberg requires)."""
    return {
        PROP + "version": str(version.version),
        PROP + "object-key": version.object_key,
        PROP + "content-hash": version.content_hash,
        PROP + "row-count": str(version.row_count),
        PROP + "byte-size": str(version.byte_size),
        PROP + "created-at": version.created_at,
        PROP + "source": version.source,
        PROP + "columns-added": json.dumps(list(version.columns_added)),
        PROP + "schema": json.dumps([{"name": c.name, "type": c.type} for c in schema]),
    }


def file_schema(io: FileIO, location: str) -> pa.Schema:
    """The Arrow schema of the Parquet file at `location`, every column nullable: a later version may hold
    nulls where this one had none."""
    with io.new_input(location).open() as stream:
        schema = pq.read_metadata(stream).schema.to_arrow_schema()
    return pa.schema([f.with_nullable(True) for f in schema], metadata=None)


def create_with_version(
    catalog: SqlCatalog,
    io: FileIO,
    name: str,
    location: str,
    version: DatasetVersion,
    schema: tuple[Column, ...],
) -> Table:
    """Create table `name` and its first snapshot in one commit: a reader never sees the table empty."""
    return create_with_versions(catalog, io, name, [(location, version)], schema)


def create_with_versions(
    catalog: SqlCatalog,
    io: FileIO,
    name: str,
    versions: list[tuple[str, DatasetVersion]],
    schema: tuple[Column, ...],
    *,
    extra_properties: dict[str, str] | None = None,
) -> Table:
    """Create table `name` with one snapshot per (file location, version), oldest first, in one commit.
    `schema` is the newest version's; an older version's file holds a prefix of its columns."""
    first = file_schema(io, versions[0][0])
    tx = create_transaction(catalog, io, name, versions[0][0], extra_properties=extra_properties)
    columns = set(first.names)
    for location, version in versions:
        arrow = file_schema(io, location)
        if not set(arrow.names) <= columns:
            with tx.update_schema() as update:
                update.union_by_name(arrow)
            columns |= set(arrow.names)
        replace_files(tx, io, location, version, tuple(c for c in schema if c.name in set(arrow.names)))
    return tx.commit_transaction()


def create_transaction(
    catalog: SqlCatalog, io: FileIO, name: str, location: str, *, extra_properties: dict[str, str] | None = None
) -> Transaction:
    """A transaction creating table `name` with the schema of the Parquet file at `location` (its first data
    file), columns matched by name; nothing exists until it commits."""
    tx = catalog.create_table_transaction(
        identifier(name),
        schema=file_schema(io, location),
        location=_table_location(catalog, name),
        properties={
            **TABLE_PROPERTIES,
            DATASET_ID: dataset_id_for(name),
            # other engines write their data files beside the project's (datasets/<name>/), where SQL may read
            "write.data.path": location.rsplit("/", 1)[0],
            **(extra_properties or {}),
        },
    )
    _name_files_by_column_name(tx)
    return tx


def commit_version(
    table: Table, location: str, version: DatasetVersion, schema: tuple[Column, ...], *, added: bool
) -> Table:
    """Make the file at `location` the table's only data file, as one snapshot (with the schema update
    first when the version adds columns). CommitFailedException when another writer committed since
    `table` was loaded: nothing is changed then."""
    tx = CachingTransaction(table)
    if added:
        with tx.update_schema() as update:
            update.union_by_name(file_schema(table.io, location))
    replace_files(tx, table.io, location, version, schema)
    return tx.commit_transaction()


def replace_files(
    tx: Transaction, io: FileIO, location: str, version: DatasetVersion, schema: tuple[Column, ...]
) -> None:
    """Stage one overwrite snapshot on `tx`: every current data file out, the file at `location` in."""
    snapshot = tx.table_metadata.current_snapshot()
    operation = Operation.OVERWRITE if snapshot is not None else Operation.APPEND
    props = version_properties(version, schema)
    with Replace(operation=operation, transaction=tx, io=io, branch=MAIN_BRANCH, snapshot_properties=props) as op:
        if snapshot is not None:
            for manifest in snapshot.manifests(io):
                for entry in manifest.fetch_manifest_entry(io, discard_deleted=True):
                    op.delete_data_file(entry.data_file)
        op.append_data_file(parquet_file_to_data_file(io, tx.table_metadata, location))


class CachingTransaction(Transaction):
    """A transaction that applies its staged updates to the table's metadata once per change, not on every
    read: pyiceberg 0.12 deep-copies the whole metadata (every snapshot) each time `table_metadata` is read,
    some twenty times a commit, which made a commit cost grow with the length of the version history."""

    _cached: tuple[tuple[int, int], TableMetadata] | None = None

    @property
    def table_metadata(self) -> TableMetadata:
        key = (id(self._table.metadata), len(self._updates))
        if self._cached is None or self._cached[0] != key:
            self._cached = (key, super().table_metadata)
        return self._cached[1]


class Replace(_OverwriteFiles):
    """pyiceberg's overwrite, minus the manifests that hold no live file: pyiceberg 0.12 carries every
    earlier overwrite's delete-only manifest into the next snapshot, so each version would read one more
    manifest than the last (100 versions: 0.4 s a commit)."""

    def _existing_manifests(self) -> list[ManifestFile]:
        return [m for m in super()._existing_manifests() if m.has_added_files() or m.has_existing_files()]


def _name_files_by_column_name(tx: Transaction) -> None:
    """Parquet files written by DuckDB carry no Iceberg field ids; the default name mapping tells every
    engine to match their columns by name (what pyiceberg's `add_files` sets too)."""
    mapping = tx.table_metadata.schema().name_mapping
    tx.set_properties({"schema.name-mapping.default": mapping.model_dump_json()})


def _table_location(catalog: SqlCatalog, name: str) -> str:
    return f"{catalog.properties['warehouse'].rstrip('/')}/{name}"
