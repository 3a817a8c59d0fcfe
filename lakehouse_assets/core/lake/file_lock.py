"""An exclusive lock held across processes: flock on a file (the API's worker processes share a home)."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def file_lock(path: Path, flags: int = os.O_RDWR) -> Iterator[int]:
    """Hold an exclusive flock on `path` (created if absent, with its folder); yields the open descriptor
    (`flags` say how it is opened, e.g. with O_APPEND to write under the lock). Two descriptors conflict
    even in one process, so threads need their own lock in front of it to nest."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, flags | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)  # and with it the lock
