"""Upgrading a lake of JSON manifests (`catalog/<name>/vNNNNNNNN.json`, the catalog before Iceberg) in place.

Each dataset becomes an Iceberg table in one commit: every version whose Parquet file is still in the lake
becomes a snapshot carrying its old number, hash and source, and the files are added where they are (no
rewrite). A table that commit made records the manifest it came from; a manifest newer than that (an old
writer still running after the upgrade) means the lake is half-migrated, and the catalog refuses to open
rather than serve a version that silently lost its successor. The JSON manifests stay where they were.
"""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING

from pyiceberg.exceptions import NoSuchTableError

from lakehouse_assets.core.errors import LakehouseError
from lakehouse_assets.core.lake import iceberg
from lakehouse_assets.core.lake.manifest import Manifest

if TYPE_CHECKING:
    from lakehouse_assets.core.lake.catalog import Catalog

log = logging.getLogger(__name__)

MANIFEST_PREFIX = "catalog/"
_MANIFEST_KEY_RE = re.compile(r"^catalog/([a-z][a-z0-9_]*)/v(\d{8})\.json$")
MIGRATED_FROM = iceberg.PROP + "migrated-from"  # table property: the manifest version the table was made from


class HalfMigrated(LakehouseError):
    status = 500
    code = "half_migrated"


def manifest_versions(catalog: Catalog) -> dict[str, int]:
    """The newest JSON manifest version of every dataset that has any."""
    latest: dict[str, int] = {}
    for obj in catalog.storage.list(MANIFEST_PREFIX):
        if m := _MANIFEST_KEY_RE.match(obj.key):
            latest[m.group(1)] = max(latest.get(m.group(1), 0), int(m.group(2)))
    return latest


def migrate_manifests(catalog: Catalog) -> list[str]:
    """Turn every dataset that has JSON manifests and no Iceberg table into one; the names migrated.
    HalfMigrated when a table's manifests moved on after it was made from them."""
    migrated = []
    for name, top in sorted(manifest_versions(catalog).items()):
        try:
            table = catalog.iceberg.load_table(iceberg.identifier(name))
        except NoSuchTableError:
            table = None
        if table is not None:
            made_from = int(table.metadata.properties.get(MIGRATED_FROM, "0"))
            if top > made_from:
                raise HalfMigrated(
                    f"dataset {name!r} has a JSON manifest v{top} newer than its Iceberg table "
                    f"(made from v{made_from}): a writer from before the Iceberg catalog is still running. "
                    f"Stop it, then remove catalog/{name}/ (its versions are lost) or the table, and reopen"
                )
            continue
        manifest = _newest_readable(catalog, name, top)
        if manifest is not None and _migrate_one(catalog, manifest, top):
            migrated.append(name)
    return migrated


def _newest_readable(catalog: Catalog, name: str, top: int) -> Manifest | None:
    for version in range(top, 0, -1):
        key = f"{MANIFEST_PREFIX}{name}/v{version:08d}.json"
        try:
            return Manifest.from_dict(json.loads(catalog.storage.get_bytes(key)))
        except LakehouseError:
            continue
        except (ValueError, KeyError, TypeError) as e:
            log.warning("skipping unreadable manifest %s: %s", key, e)
    return None


def _migrate_one(catalog: Catalog, manifest: Manifest, top: int) -> bool:
    storage = catalog.storage
    kept = [v for v in manifest.versions if storage.exists(v.object_key)]
    if not kept:
        log.warning("dataset %s: no version's Parquet file is left; not migrated", manifest.name)
        return False
    for v in manifest.versions:
        if v not in kept:
            log.warning("dataset %s v%d: its file %s is gone; not migrated", manifest.name, v.version, v.object_key)
    try:
        iceberg.create_with_versions(
            catalog.iceberg,
            catalog.io,
            manifest.name,
            [(storage.location(v.object_key), v) for v in kept],
            manifest.schema,
            extra_properties={MIGRATED_FROM: str(top), iceberg.DATASET_ID: manifest.dataset_id},
        )
    except iceberg.CONFLICTS:
        log.info("dataset %s was migrated by another process meanwhile", manifest.name)
        return False
    log.info("migrated dataset %s: %d versions from JSON manifests to an Iceberg table", manifest.name, len(kept))
    return True
