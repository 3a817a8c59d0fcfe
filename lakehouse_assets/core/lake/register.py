"""Registering a finished Parquet file: stored under its content-addressed key, then made the live version
in the catalog. Shared by CSV ingest and derived tables."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from lakehouse_assets.core.lake.catalog import Column, Manifest, SchemaConflict, SchemaEvolution
from lakehouse_assets.core.lake.handle import Lake


@dataclass(frozen=True)
class IngestResult:
    manifest: Manifest
    created: bool  # False when identical content was already the live version


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(4 << 20):
            h.update(chunk)
    return h.hexdigest()


def object_key_for(name: str, content_hash: str) -> str:
    return f"datasets/{name}/{content_hash}.parquet"


def register_parquet(
    parquet: Path,
    name: str,
    schema: tuple[Column, ...],
    rows: int,
    *,
    lake: Lake,
    source: str,
    evolve: SchemaEvolution = SchemaEvolution.NONE,
) -> IngestResult:
    """Store a finished Parquet file under its content-addressed key and make it the live version.

    Shared by CSV ingest and derived tables. The staged file is consumed either way.
    """
    storage, catalog = lake.storage, lake.catalog
    try:
        live = catalog.check(name, schema, evolve=evolve)
        content_hash = sha256_file(parquet)
        if live is not None and live.current.content_hash == content_hash:
            return IngestResult(live, created=False)
        key = object_key_for(name, content_hash)
        byte_size = parquet.stat().st_size
        preexisting = storage.exists(key)
        if not preexisting:
            storage.put_file(key, parquet)
        try:
            result = catalog.register(
                name,
                schema,
                object_key=key,
                content_hash=content_hash,
                row_count=rows,
                byte_size=byte_size,
                source=source,
                evolve=evolve,
            )
        except SchemaConflict:
            if not preexisting:  # a racing writer changed the schema: our object is referenced by nothing
                storage.delete(key)
            raise
        return IngestResult(result.manifest, created=result.created)
    finally:
        parquet.unlink(missing_ok=True)
