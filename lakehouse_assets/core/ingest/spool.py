"""An upload written to a scratch file as it arrives, readable while it is still being written.

The ingest conversion reads the spool through `Spool.reader()` from the first byte on, so parsing the
CSV overlaps receiving it instead of starting after the last byte. A read waits for more bytes or
for the end of the upload; an upload that is abandoned (over the size cap, the client gone) ends
every pending read with UploadAborted. The file stays on disk until the caller deletes it, so the
error paths that re-read it to name a line can have the whole of it (`Spool.finished()`).
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, Literal

from lakehouse_assets.core.errors import LakehouseError


class TooLarge(LakehouseError, ValueError):
    status = 413
    code = "too_large"

    def fields(self) -> dict[str, Any]:
        return {"limit_bytes": self.limit}

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"upload exceeds the ingest size limit of {limit} bytes")


class UploadAborted(LakehouseError):
    """The upload stopped before its end: whatever was reading it has nothing to convert."""

    status = 400
    code = "upload_aborted"


class Spool:
    """Writes an incoming byte stream to a scratch file, refusing it once it passes the size cap.

    One thread (or the event loop) writes; any number of readers may follow it. `quotes` counts the
    '"' bytes on the way: an odd count at the end means a quote never closed.
    """

    def __init__(self, scratch_dir: Path, max_bytes: int) -> None:
        scratch_dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.size = 0
        self.quotes = 0
        fd, name = tempfile.mkstemp(dir=scratch_dir, prefix="upload-", suffix=".csv")
        self.path = Path(name)
        self._f = open(fd, "wb", buffering=0)  # noqa: SIM115 - closed in close()/discard(); unbuffered: readers see each write
        self._cond = threading.Condition()
        self._state: Literal["open", "closed", "discarded"] = "open"
        self._visible = 0  # bytes a reader may read

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            self.discard()
            raise TooLarge(self.max_bytes)
        self.quotes += chunk.count(b'"')
        view = memoryview(chunk)
        while view:
            view = view[self._f.write(view) :]
        with self._cond:
            self._visible = self.size
            self._cond.notify_all()

    def close(self) -> Spool:
        """The upload is complete: readers reach the end of the file."""
        self._f.close()
        self._finish("closed")
        return self

    def discard(self) -> None:
        """The upload is abandoned: the file goes, and readers get UploadAborted."""
        self._f.close()
        self._finish("discarded")
        self.path.unlink(missing_ok=True)

    @property
    def odd_quotes(self) -> bool:
        return self.quotes % 2 == 1

    def finished(self) -> Spool:
        """Wait for the whole upload; UploadAborted when it was abandoned instead."""
        self._wait(sys.maxsize, lambda: False)
        return self

    def reader(self) -> BinaryIO:
        """A stream over the spooled bytes from the start, that waits for bytes not yet written."""
        return _SpoolReader(self)  # type: ignore[return-value]

    def _finish(self, state: Literal["closed", "discarded"]) -> None:
        with self._cond:
            if self._state == "open":
                self._state = state
            self._cond.notify_all()

    def _wait(self, wanted: int, give_up: Callable[[], bool]) -> int:
        """Bytes visible once `wanted` are, or the upload ended; UploadAborted if it was abandoned."""
        with self._cond:
            while self._state == "open" and self._visible < wanted and not give_up():
                self._cond.wait()
            if self._state == "discarded":
                raise self._aborted()
            return self._visible

    def _aborted(self) -> UploadAborted:
        return UploadAborted(f"the upload to {self.path.name} was abandoned before its end")

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()


class _SpoolReader(io.RawIOBase):
    """Reads the spool file at its own offset (pread), waiting while the writer is behind. Closing it
    releases a read that is waiting (pyarrow may have one in flight when a conversion stops early)."""

    def __init__(self, spool: Spool) -> None:
        super().__init__()
        self._lock = threading.Lock()  # a read and a close never overlap on the descriptor
        self._fd = -1
        self._spool = spool
        with spool._cond:  # the file is unlinked only after the spool is marked discarded
            if spool._state == "discarded":
                raise spool._aborted()
            self._fd = os.open(spool.path, os.O_RDONLY)
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.closed:
            raise ValueError("read from a closed spool reader")
        visible = self._spool._wait(self._pos + len(buffer), lambda: self.closed)
        with self._lock:
            wanted = min(len(buffer), visible - self._pos)
            if wanted <= 0 or self.closed:
                return 0
            n = os.preadv(self._fd, [memoryview(buffer)[:wanted]], self._pos)
            self._pos += n
            return n

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            super().close()
            if self._fd >= 0:
                os.close(self._fd)
        self._spool._wake()
