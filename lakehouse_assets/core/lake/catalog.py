"""The catalog of datasets: every dataset an Apache Iceberg table (core/lake/iceberg.py), every version a
snapshot of it, behind the contract the project has always kept.

A version is immutable and numbered; `register` makes a new one live in one atomic commit, or changes
nothing: identical content is a no-op, a schema that may not follow the live one is a SchemaConflict
naming both. Writers in other processes (API workers, Dagster runs) commit to the same SQL catalog; a
commit that lost the race re-reads the table and tries again, so no version is lost and no data file is
rewritten. The catalog keeps what it read in memory and re-reads only the tables whose metadata moved.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable, Sequence

from pyiceberg.exceptions import NoSuchTableError, ValidationError
from pyiceberg.table import Table

from lakehouse_assets.core.lake import iceberg, partitions
from lakehouse_assets.core.lake.manifest import (
    ADDITIVE_ONLY,
    CORPUS_PREFIX,
    DATASET_NAMESPACE,
    DERIVED_SOURCE,
    OWNED_DATASETS,
    OWNED_PREFIXES,
    Column,
    DatasetNotFound,
    DatasetOwned,
    DatasetVersion,
    InvalidDatasetName,
    Manifest,
    RegisterResult,
    SchemaConflict,
    SchemaEvolution,
    _evolution,
    _now,
    added_columns,
    dataset_id_for,
    format_schema,
    is_owned,
    refuse_owned,
    schema_fingerprint,
    validate_dataset_name,
)
from lakehouse_assets.core.lake.storage import LakeStorage

__all__ = [
    "ADDITIVE_ONLY",
    "CORPUS_PREFIX",
    "DATASET_NAMESPACE",
    "DERIVED_SOURCE",
    "OWNED_DATASETS",
    "OWNED_PREFIXES",
    "Catalog",
    "Column",
    "DatasetNotFound",
    "DatasetOwned",
    "DatasetVersion",
    "InvalidDatasetName",
    "Manifest",
    "RegisterResult",
    "SchemaConflict",
    "SchemaEvolution",
    "added_columns",
    "dataset_id_for",
    "format_schema",
    "is_owned",
    "refuse_owned",
    "schema_fingerprint",
    "validate_dataset_name",
]

log = logging.getLogger(__name__)


class Catalog:
    """The lake's Iceberg tables as Manifests, cached in memory and refreshed from the SQL catalog on demand."""

    def __init__(self, storage: LakeStorage, uri: str | None = None) -> None:
        from lakehouse_assets.core.lake.migrate import migrate_manifests

        self.storage = storage
        self.uri = uri or storage.default_catalog_uri()
        self.iceberg = iceberg.open_sql_catalog(self.uri, storage)
        self.io = iceberg.lake_io(storage)
        self._files = iceberg.SnapshotFiles(storage, self.io, {})
        self._lock = threading.Lock()
        self._listing = threading.Lock()
        self._listed_at = -math.inf  # when the last listing began (monotonic)
        self._manifests: dict[str, Manifest] = {}
        self._seen: dict[str, tuple[int, str]] = {}  # name -> (last sequence number, metadata location)
        migrate_manifests(self)
        self.refresh()

    # -- reading -----------------------------------------------------------------------------

    def refresh(self, max_age: float = 0.0) -> bool:
        """Re-read the tables whose metadata moved (other processes write too). True if any did.

        With `max_age`, a catalog listed less than that many seconds ago is not listed again: a request
        path can afford a listing a second, not one per request; callers that arrive during a listing wait
        for it instead of starting their own."""
        if max_age > 0 and time.monotonic() - self._listed_at < max_age:
            return False
        with self._listing:
            if max_age > 0 and time.monotonic() - self._listed_at < max_age:
                return False  # another caller listed while this one waited
            self._listed_at = time.monotonic()
            return self._relist()

    def _relist(self) -> bool:
        with self._lock:
            known = {name: location for name, (_, location) in self._seen.items()}
        locations = iceberg.metadata_locations(self.iceberg)
        changed = False
        for name, location in locations.items():
            if known.get(name) == location:
                continue
            try:
                table = self._load(name)
            except iceberg.UnreadableTable as e:
                log.warning("skipping table %s: %s", name, e)
                with self._lock:
                    self._seen[name] = (-1, location)  # not read again until its metadata moves
                    changed |= self._manifests.pop(name, None) is not None
                continue
            if table is not None:
                changed |= self._remember(name, table)
        with self._lock:
            for name in list(self._seen):
                if name not in locations and self._seen[name][1] == known.get(name):
                    self._manifests.pop(name, None)
                    del self._seen[name]
                    changed = True
        return changed

    def _load(self, name: str) -> Table | None:
        """The table as the SQL catalog has it now; None when there is none. UnreadableTable when its
        metadata file is damaged or gone."""
        try:
            return self.iceberg.load_table(iceberg.identifier(name))
        except NoSuchTableError:
            return None
        except (ValidationError, ValueError, TypeError, KeyError, AttributeError, OSError) as e:
            raise iceberg.UnreadableTable(f"table {name!r} has unreadable metadata: {e}") from e

    def _manifest(self, name: str, table: Table) -> Manifest | None:
        try:
            return iceberg.manifest_of(name, table, self._files)
        except iceberg.UnreadableTable as e:
            log.warning("skipping table %s: %s", name, e)
            return None

    def list(self) -> list[Manifest]:
        with self._lock:
            return sorted(self._manifests.values(), key=lambda m: m.name)

    def get(self, name: str) -> Manifest:
        with self._lock:
            m = self._manifests.get(name)
        if m is None:
            raise DatasetNotFound(name)
        return m

    def find(self, name: str) -> Manifest | None:
        with self._lock:
            return self._manifests.get(name)

    def table(self, name: str) -> Table:
        """Dataset `name`'s Iceberg table as the catalog has it now. DatasetNotFound when there is none."""
        table = self._load(validate_dataset_name(name))
        if table is None:
            raise DatasetNotFound(name)
        return table

    # -- writing -----------------------------------------------------------------------------

    def live(self, name: str) -> Manifest | None:
        """The live manifest as the catalog has it now (not the cache): what a writer must compare with."""
        validate_dataset_name(name)
        table = self._load(name)
        return None if table is None else self._manifest(name, table)

    def check(
        self, name: str, schema: Sequence[Column], *, evolve: SchemaEvolution = SchemaEvolution.NONE
    ) -> Manifest | None:
        """Raise SchemaConflict if `schema` may not follow the live one; return the live manifest."""
        live = self.live(name)
        if live is not None:
            _evolution(name, live, tuple(schema), evolve)
        return live

    def register(
        self,
        name: str,
        schema: Iterable[Column],
        *,
        object_key: str,
        content_hash: str,
        row_count: int,
        byte_size: int,
        source: str = "",
        evolve: SchemaEvolution = SchemaEvolution.NONE,
    ) -> RegisterResult:
        """Make the Parquet file at `object_key` the live version of `name`: one Iceberg snapshot.

        Identical content (same hash as the live version) is a no-op; a different schema raises
        SchemaConflict and changes nothing, unless `evolve` is additive and the schema only adds columns.
        """
        validate_dataset_name(name)
        schema = tuple(schema)
        location = self.storage.location(object_key)
        while True:
            table = self._load(name)
            live = None if table is None else self._manifest(name, table)
            if table is not None and live is None:
                raise iceberg.UnreadableTable(f"table {name!r} cannot take a new version: its live one is unreadable")
            added: tuple[Column, ...] = ()
            if table is not None and live is not None:
                added = _evolution(name, live, schema, evolve)
                if live.current.content_hash == content_hash:
                    self._remember(name, table, live)
                    return RegisterResult(live, created=False)
            entry = DatasetVersion(
                version=(live.version if live else 0) + 1,
                object_key=object_key,
                content_hash=content_hash,
                row_count=row_count,
                byte_size=byte_size,
                created_at=_now(),
                source=source,
                columns_added=tuple(c.name for c in added),
            )
            try:
                if table is None:
                    table = iceberg.create_with_version(self.iceberg, self.io, name, location, entry, schema)
                else:
                    table = iceberg.commit_version(table, location, entry, schema, added=bool(added))
            except iceberg.CONFLICTS:
                log.info("lost the race for %s v%d; re-reading and retrying", name, entry.version)
                continue
            manifest = self._manifest(name, table)
            if manifest is None:
                raise iceberg.UnreadableTable(f"table {name!r} cannot be read back after its commit")
            self._remember(name, table, manifest)
            return RegisterResult(manifest, created=True)

    def day_layout(self, name: str, column: str, day: str) -> partitions.Layout:
        """What writing `day` to table `name` replaces now: the day's files, and the files from before the
        table was partitioned by `column` (they have to be split by day first)."""
        return partitions.layout(self._load(validate_dataset_name(name)), self.storage, column, day)

    def replace_day(
        self,
        name: str,
        schema: Iterable[Column],
        *,
        column: str,
        day: str,
        files: Sequence[partitions.DayFile],
        unsorted: tuple[str, ...],
        source: str = DERIVED_SOURCE,
    ) -> RegisterResult:
        """Make `files` (the rows of `day`, plus the `unsorted` files split by day) the new version of `name`,
        keeping every other day's files: one Iceberg snapshot on a table partitioned by `column`.

        The same files as now is a no-op; a different schema raises SchemaConflict and changes nothing;
        partitions.StaleLayout when the unsorted files changed meanwhile (split them again)."""
        validate_dataset_name(name)
        schema = tuple(schema)
        while True:
            table = self._load(name)
            live = None if table is None else self._manifest(name, table)
            if table is not None and live is None:
                raise iceberg.UnreadableTable(f"table {name!r} cannot take a new version: its live one is unreadable")
            now = partitions.layout(table, self.storage, column, day)
            if now.unsorted != unsorted:
                raise partitions.StaleLayout(f"{name}: the files to split changed")
            kept = set(live.data_files if live else ()) - set(now.day_keys) - set(now.unsorted)
            keys = sorted(kept | {f.key for f in files})
            if table is not None and live is not None:
                _evolution(name, live, schema, SchemaEvolution.NONE)
                if keys == sorted(live.data_files):
                    self._remember(name, table, live)
                    return RegisterResult(live, created=False)
            entry = DatasetVersion(
                version=(live.version if live else 0) + 1,
                object_key=keys[0],
                content_hash=partitions.files_hash(keys),
                row_count=0,  # Iceberg counts them: the snapshot's total-records
                byte_size=0,
                created_at=_now(),
                source=source,
            )
            try:
                if table is None:
                    table = partitions.create_with_day(
                        self.iceberg, self.io, self.storage, name, column, files, entry, schema
                    )
                else:
                    table = partitions.commit_day(
                        table, column, files, day, entry, schema, expected_unsorted=unsorted, storage=self.storage
                    )
            except iceberg.CONFLICTS:
                log.info("lost the race for %s v%d (day %s); re-reading and retrying", name, entry.version, day)
                continue
            manifest = self._manifest(name, table)
            if manifest is None:
                raise iceberg.UnreadableTable(f"table {name!r} cannot be read back after its commit")
            self._remember(name, table, manifest)
            return RegisterResult(manifest, created=True)

    def _remember(self, name: str, table: Table, manifest: Manifest | None = None) -> bool:
        """Cache `table`'s manifest unless a newer one is cached already. True if the cache changed."""
        seen = (table.metadata.last_sequence_number, table.metadata_location)
        if manifest is None:
            manifest = self._manifest(name, table)
        with self._lock:
            current = self._seen.get(name)
            if current is not None and current[0] > seen[0]:
                return False  # this instance registered a newer version while we were reading
            self._seen[name] = seen
            if manifest is None:
                return self._manifests.pop(name, None) is not None
            changed = self._manifests.get(name) != manifest
            self._manifests[name] = manifest
            return changed
