"""The catalog: one manifest per dataset, with its schema, fingerprint and version history.

Each registration writes a new immutable object `catalog/<name>/v<NNNNNNNN>.json` holding the whole
manifest as of that version, with a create-exclusive write. Two writers racing for the same
version number cannot both win: the loser re-reads and retries, so no update is lost and no reader
ever sees a torn manifest. The live manifest is the highest version; the catalog is rebuilt from
storage on start, so it survives restarts and is shared by every process using the same lake.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from lakehouse_assets.core.errors import LakehouseError
from lakehouse_assets.core.lake.storage import LakeStorage, ObjectNotFound

log = logging.getLogger(__name__)

# Every dataset_id ever issued depends on these bytes: never change them.
DATASET_NAMESPACE = uuid.UUID("5d0b7f4e-2c1a-5e8b-9f3d-6a4c2b1e0d97")
CATALOG_PREFIX = "catalog/"
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_VERSION_SUFFIX_RE = re.compile(r"__v\d+$")
_VERSION_KEY_RE = re.compile(r"^catalog/([a-z][a-z0-9_]*)/v(\d{8})\.json$")


class InvalidDatasetName(LakehouseError, ValueError):
    status = 400
    code = "invalid_name"


class DatasetNotFound(LakehouseError, KeyError):
    status = 404
    code = "not_found"

    def __str__(self) -> str:
        return f"no dataset named {self.args[0]!r}"


@dataclass(frozen=True)
class Column:
    name: str
    type: str


def _fingerprint_field(text: str) -> bytes:
    """ESC-escape the separators so a name holding them cannot mimic a column boundary (a no-op for
    ordinary names, so fingerprints of such schemas are unchanged)."""
    return text.replace("\x1b", "\x1b\x1b").replace("\x1f", "\x1b\x1f").replace("\x1e", "\x1b\x1e").encode("utf-8")


def schema_fingerprint(schema: Sequence[Column]) -> str:
    """SHA-256 over (name, type) in column order; unit/record separators keep names with commas apart.

    Nullability is deliberately not part of it: a column gaining nulls is not a schema change.
    """
    h = hashlib.sha256()
    for c in schema:
        h.update(_fingerprint_field(c.name) + b"\x1f" + _fingerprint_field(c.type) + b"\x1e")
    return h.hexdigest()


def format_schema(schema: Sequence[Column]) -> str:
    return "(" + ", ".join(f"{c.name} {c.type}" for c in schema) + ")"


class SchemaConflict(LakehouseError):
    """New data for a dataset whose live schema differs. Nothing live was changed."""

    status = 409
    code = "schema_conflict"

    def fields(self) -> dict[str, Any]:
        def columns(cols: Sequence[Column]) -> list[dict[str, str]]:
            return [{"name": c.name, "type": c.type} for c in cols]

        live, new = columns(self.live), columns(self.new)
        both = {"live": format_schema(self.live), "new": format_schema(self.new)}
        return {"details": {"dataset": self.name, "live_schema": live, "new_schema": new, **both}}

    def __init__(self, name: str, live: Sequence[Column], new: Sequence[Column], detail: str = "") -> None:
        self.name = name
        self.live = tuple(live)
        self.new = tuple(new)
        self.detail = detail
        msg = f"schema drift for dataset {name!r}: live schema {format_schema(live)} != new schema {format_schema(new)}"
        super().__init__(msg + (f"; {detail}" if detail else ""))


def validate_dataset_name(name: str) -> str:
    """Dataset names double as SQL view names: lowercase identifiers, and never `<x>__v<N>`."""
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise InvalidDatasetName(
            f"invalid dataset name {name!r}: use 1-63 characters of a-z, 0-9 and '_', starting with a letter"
        )
    if _VERSION_SUFFIX_RE.search(name):
        raise InvalidDatasetName(f"invalid dataset name {name!r}: the suffix '__v<N>' is reserved for version views")
    return name


class SchemaEvolution(StrEnum):
    """What a new version may do to a live schema: nothing (the default: any change is a SchemaConflict), or
    add columns after the live ones (`additive`; the old versions keep theirs, types never change)."""

    NONE = "none"
    ADDITIVE = "additive"


def added_columns(live: Sequence[Column], new: Sequence[Column]) -> tuple[Column, ...] | None:
    """The columns `new` adds after every live one (same names, types and order); None when it does anything
    else: drops, renames, reorders or retypes a column, or adds none."""
    n = len(live)
    if len(new) <= n or tuple(new[:n]) != tuple(live):
        return None
    return tuple(new[n:])


ADDITIVE_ONLY = "additive evolution only adds columns after the live ones, in their order and types"


class DatasetOwned(LakehouseError):
    """409: the name is one the lakehouse's assets produce; ingesting it would overwrite (or pre-empt) them."""

    status = 409
    code = "owned_by_assets"


# What the assets write (also recognised by a live manifest's source, "derived"): reserved up front too, so a
# caller cannot create one before its asset first runs, with a schema or content the asset never made.
CORPUS_PREFIX = "corpus_"  # every corpus's dataset and vector index: corpus_<name> (core/retrieval/corpora.py)
OWNED_PREFIXES = (CORPUS_PREFIX,)
OWNED_DATASETS = frozenset(
    {
        "workers_by_role",
        "playbook_memory",
        "iterate_sessions",
        "evidence_records",
        "scored_evidence",
        "sft_export",
        "dataset_drift",
        "embedding_drift",
        "embedding_baseline",
        "scorer_drift",
        "playbook_drift",
    }
)
DERIVED_SOURCE = "derived"


def is_owned(name: str, live: Manifest | None = None) -> bool:
    return (
        name.startswith(OWNED_PREFIXES)
        or name in OWNED_DATASETS
        or (live is not None and live.current.source == DERIVED_SOURCE)
    )


def refuse_owned(name: str, live: Manifest | None) -> None:
    """Ingest (an upload, a landing file) may not write a dataset the assets produce."""
    if is_owned(name, live):
        raise DatasetOwned(
            f"dataset {name!r} is produced by the lakehouse's assets (materialize it in Dagster); "
            "ingest under another name"
        )


def dataset_id_for(name: str) -> str:
    """UUIDv5 of the name: the same dataset has the same id on every machine."""
    return str(uuid.uuid5(DATASET_NAMESPACE, name))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class DatasetVersion:
    version: int
    object_key: str
    content_hash: str
    row_count: int
    byte_size: int
    created_at: str
    source: str = ""
    columns_added: tuple[str, ...] = ()  # the columns this version added to the schema (additive evolution)


@dataclass(frozen=True)
class Manifest:
    name: str
    dataset_id: str
    schema: tuple[Column, ...]
    fingerprint: str
    versions: tuple[DatasetVersion, ...] = field(default_factory=tuple)

    @property
    def current(self) -> DatasetVersion:
        return self.versions[-1]

    @property
    def version(self) -> int:
        return self.current.version

    @property
    def object_key(self) -> str:
        return self.current.object_key

    @property
    def row_count(self) -> int:
        return self.current.row_count

    @property
    def byte_size(self) -> int:
        return self.current.byte_size

    @property
    def created_at(self) -> str:
        return self.versions[0].created_at

    @property
    def updated_at(self) -> str:
        return self.current.created_at

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "dataset_id": self.dataset_id,
            "schema": [asdict(c) for c in self.schema],
            "fingerprint": self.fingerprint,
            "version": self.version,
            "object_key": self.object_key,
            "row_count": self.row_count,
            "byte_size": self.byte_size,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "versions": [asdict(v) for v in self.versions],
        }

    @classmethod
    def from_dict(cls, d: dict) -> Manifest:
        return cls(
            name=d["name"],
            dataset_id=d["dataset_id"],
            schema=tuple(Column(c["name"], c["type"]) for c in d["schema"]),
            fingerprint=d["fingerprint"],
            versions=tuple(
                DatasetVersion(**{**v, "columns_added": tuple(v.get("columns_added", ()))}) for v in d["versions"]
            ),
        )


@dataclass(frozen=True)
class RegisterResult:
    manifest: Manifest
    created: bool  # False when identical content was already the live version


def _version_key(name: str, version: int) -> str:
    return f"{CATALOG_PREFIX}{name}/v{version:08d}.json"


def _evolution(name: str, live: Manifest, schema: tuple[Column, ...], evolve: SchemaEvolution) -> tuple[Column, ...]:
    """The columns `schema` adds to the live one (none when it is the same); SchemaConflict when it may not
    follow it."""
    if live.fingerprint == schema_fingerprint(schema):
        return ()
    if evolve == SchemaEvolution.ADDITIVE:
        added = added_columns(live.schema, schema)
        if added is None:
            raise SchemaConflict(name, live.schema, schema, detail=ADDITIVE_ONLY)
        return added
    raise SchemaConflict(name, live.schema, schema)


class Catalog:
    """Manifests in lake storage, cached in memory and refreshed from storage on demand."""

    def __init__(self, storage: LakeStorage) -> None:
        self.storage = storage
        self._lock = threading.Lock()
        self._listing = threading.Lock()
        self._listed_at = -math.inf  # when the last listing began (monotonic)
        self._manifests: dict[str, Manifest] = {}
        self._latest_keys: dict[str, str] = {}
        self.refresh()

    # -- reading -----------------------------------------------------------------------------

    def refresh(self, max_age: float = 0.0) -> bool:
        """Re-read manifests that changed in storage (other processes write too). True if any did.

        With `max_age`, a catalog listed less than that many seconds ago is not listed again: a request
        path can afford a listing a second, not one per request (on S3 each is a LIST call); callers that
        arrive during a listing wait for it instead of starting their own."""
        if max_age > 0 and time.monotonic() - self._listed_at < max_age:
            return False
        with self._listing:
            if max_age > 0 and time.monotonic() - self._listed_at < max_age:
                return False  # another caller listed while this one waited
            self._listed_at = time.monotonic()
            return self._relist()

    def _relist(self) -> bool:
        with self._lock:
            known = dict(self._latest_keys)  # before listing: a register() meanwhile must not be undone
        latest: dict[str, tuple[int, str]] = {}
        for obj in self.storage.list(CATALOG_PREFIX):
            m = _VERSION_KEY_RE.match(obj.key)
            if m is None:
                continue
            name, version = m.group(1), int(m.group(2))
            if name not in latest or version > latest[name][0]:
                latest[name] = (version, obj.key)
        changed = False
        loaded: dict[str, tuple[str, Manifest | None]] = {}
        for name, (version, key) in latest.items():
            if known.get(name) != key:
                loaded[name] = (key, self._read_latest_readable(name, version))
        with self._lock:
            for name in list(self._manifests):
                if name not in latest and self._latest_keys.get(name) == known.get(name):
                    del self._manifests[name]
                    self._latest_keys.pop(name, None)
                    changed = True
            for name, (key, manifest) in loaded.items():
                if self._latest_keys.get(name, "") > key:
                    continue  # this instance registered a newer version while we were reading
                self._latest_keys[name] = key
                if manifest is not None:
                    self._manifests[name] = manifest
                    changed = True
        return changed

    def _read_latest_readable(self, name: str, version: int) -> Manifest | None:
        """The newest version file that parses; a damaged one is skipped with a warning."""
        for v in range(version, 0, -1):
            key = _version_key(name, v)
            try:
                return Manifest.from_dict(json.loads(self.storage.get_bytes(key)))
            except ObjectNotFound:
                continue
            except (ValueError, KeyError, TypeError) as e:
                log.warning("skipping unreadable manifest %s: %s", key, e)
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

    # -- writing -----------------------------------------------------------------------------

    def _latest_from_storage(self, name: str) -> tuple[int, Manifest | None]:
        versions = [
            int(m.group(2))
            for obj in self.storage.list(f"{CATALOG_PREFIX}{name}/")
            if (m := _VERSION_KEY_RE.match(obj.key)) and m.group(1) == name
        ]
        if not versions:
            return 0, None
        top = max(versions)
        return top, self._read_latest_readable(name, top)

    def live(self, name: str) -> Manifest | None:
        """The live manifest as storage has it now (not the cache): what a writer must compare with."""
        validate_dataset_name(name)
        return self._latest_from_storage(name)[1]

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
        """Make `object_key` the live version of `name`.

        Identical content (same hash as the live version) is a no-op; a different schema raises
        SchemaConflict and changes nothing, unless `evolve` is additive and the schema only adds columns.
        """
        validate_dataset_name(name)
        schema = tuple(schema)
        fp = schema_fingerprint(schema)
        while True:
            top, live = self._latest_from_storage(name)
            added: tuple[Column, ...] = ()
            if live is not None:
                added = _evolution(name, live, schema, evolve)
                if live.current.content_hash == content_hash:
                    self._remember(name, _version_key(name, top), live)
                    return RegisterResult(live, created=False)
            entry = DatasetVersion(
                version=top + 1,
                object_key=object_key,
                content_hash=content_hash,
                row_count=row_count,
                byte_size=byte_size,
                created_at=_now(),
                source=source,
                columns_added=tuple(c.name for c in added),
            )
            if live is None:
                new = Manifest(name, dataset_id_for(name), schema, fp, (entry,))
            else:
                new = replace(live, schema=schema, fingerprint=fp, versions=(*live.versions, entry))
            key = _version_key(name, top + 1)
            body = json.dumps(new.to_dict(), indent=1).encode("utf-8")
            if self.storage.create_exclusive(key, body):
                self._remember(name, key, new)
                return RegisterResult(new, created=True)
            log.info("lost the race for %s; re-reading and retrying", key)

    def _remember(self, name: str, key: str, manifest: Manifest) -> None:
        with self._lock:
            current = self._latest_keys.get(name)
            if current is None or current <= key:
                self._latest_keys[name] = key
                self._manifests[name] = manifest
