"""What the catalog holds, apart from where it keeps it: a dataset's versions, schema and fingerprint, the
rules a new version must follow (names, schema evolution, the datasets the assets own) and the errors that
name a broken rule."""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from lakehouse_assets.core.errors import LakehouseError

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
    snapshot_id: int | None = None  # the Iceberg snapshot this version is
    files: tuple[str, ...] = ()  # the keys of the version's data files; empty: just `object_key`

    @property
    def data_files(self) -> tuple[str, ...]:
        """The keys of the Parquet files that together hold this version's rows."""
        return self.files or (self.object_key,)


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
    def data_files(self) -> tuple[str, ...]:
        return self.current.data_files

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
                DatasetVersion(
                    **{**v, "columns_added": tuple(v.get("columns_added", ())), "files": tuple(v.get("files", ()))}
                )
                for v in d["versions"]
            ),
        )


@dataclass(frozen=True)
class RegisterResult:
    manifest: Manifest
    created: bool  # False when identical content was already the live version


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
