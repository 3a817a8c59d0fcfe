"""The landing zone: `landing/<name>.csv` objects in the lake, one per dataset to (re)ingest."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from lakehouse_assets.core.lake.catalog import InvalidDatasetName, validate_dataset_name
from lakehouse_assets.core.lake.storage import LakeStorage, ObjectInfo

LANDING_PREFIX = "landing/"


class LandingFileChanging(RuntimeError):
    """The landing file kept changing while it was copied: someone is still writing it."""


def _signature(path: Path) -> tuple[int, int, int, int]:
    st = os.stat(path)
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def stable_copy(source: Path, dest: Path, attempts: int = 3) -> None:
    """Copy `source` to `dest` as one consistent version of it: the copy is kept only if the file did not change
    while it was read (inode, size and times the same after as before), else it is taken again.

    A hard link (the snapshot before) shares the file's bytes, so a user rewriting it in place (`cp new.csv
    landing/workers.csv`, a `>` redirect) changed the snapshot mid-ingest too; a rename (`mv`) it survived."""
    for _ in range(attempts):
        before = _signature(source)
        shutil.copyfile(source, dest)
        if _signature(source) == before:
            return
    dest.unlink(missing_ok=True)
    raise LandingFileChanging(
        f"{source.name} changed each time it was read ({attempts} tries): finish writing it (or write it elsewhere "
        "and move it into the landing zone), then materialize again"
    )


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
