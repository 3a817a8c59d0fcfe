"""The landing zone: `landing/<name>.csv` objects in the lake, one per dataset to (re)ingest."""

from __future__ import annotations

from dataclasses import dataclass, field

from lakehouse_assets.core.catalog import InvalidDatasetName, validate_dataset_name
from lakehouse_assets.core.storage import LakeStorage, ObjectInfo

LANDING_PREFIX = "landing/"


def landing_key(name: str) -> str:
    return f"{LANDING_PREFIX}{name}.csv"


@dataclass(frozen=True)
class LandingScan:
    files: dict[str, ObjectInfo] = field(default_factory=dict)  # dataset name -> its CSV
    problems: list[str] = field(default_factory=list)  # CSVs whose names cannot be dataset names


def scan_landing(storage: LakeStorage) -> LandingScan:
    """The CSVs directly under `landing/`; other files and sub-folders are not the landing zone's."""
    scan = LandingScan()
    for obj in storage.list(LANDING_PREFIX):
        filename = obj.key[len(LANDING_PREFIX) :]
        if "/" in filename or not filename.endswith(".csv"):
            continue
        try:
            scan.files[validate_dataset_name(filename[: -len(".csv")])] = obj
        except InvalidDatasetName as e:
            scan.problems.append(f"{obj.key}: {e}")
    return scan
