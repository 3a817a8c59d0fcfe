"""Append-only JSONL journals: the one way the API records what happened (playbooks, iterate sessions, ...).

Any number of writers, in one process or several (the API's worker processes share their journals): each
append holds the file's lock (flock), is written with a single `write` on an O_APPEND descriptor and
fsync'd before it returns, so a crash leaves at most one torn last line; the appends of threads that
arrive meanwhile share the next write and fsync (group commit). Replay reads every line it can
parse, in order, and counts the ones it cannot (a torn tail, a corrupt line) instead of failing: the
journal is evidence, and one bad line must not hide the rest. A reader that keeps state built from a
journal follows it with `tail` (only what was appended since, and only whole lines).

A daily journal keeps one file per UTC day (`<dir>/<YYYY-MM-DD>.jsonl`), so a daily-partitioned
asset reads exactly its day.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from lakehouse_assets.core.lake.file_lock import file_lock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JournalLine:
    """A line and where it came from (1-based line number, byte offset of its start); `record` is None
    when the line is not a JSON object (torn or corrupt)."""

    lineno: int
    offset: int
    record: dict[str, Any] | None


@dataclass(frozen=True)
class JournalReplay:
    lines: list[JournalLine]
    skipped_lines: int

    @property
    def records(self) -> list[dict[str, Any]]:
        return [line.record for line in self.lines if line.record is not None]


@dataclass(frozen=True)
class JournalCursor:
    """Where a reader of a journal is: the byte offset after the last whole line it read, and its number."""

    offset: int = 0
    lineno: int = 0


def _parse(raw: bytes, path: Path, lineno: int) -> dict[str, Any] | None:
    try:
        record = json.loads(raw)
    except ValueError:
        record = None
    if not isinstance(record, dict):
        log.warning("%s line %d is not a JSON object; skipped", path, lineno)
        return None
    return record


def utc_now() -> str:
    """ISO-8601 UTC timestamp with milliseconds and a Z, the format every journal record uses."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonlJournal:
    """One append-only JSONL file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._held = 0  # depth of locked() in the thread holding _lock
        self._owner: int | None = None  # that thread
        self._fd: int | None = None
        self._tail_checked = False
        # Group commit: appends that arrive while one is being written go out together, one write and one
        # fsync; the thread that finds no write under way writes the batch (see append).
        self._group = threading.Condition(threading.Lock())
        self._batch: list[bytes] = []
        self._batch_no = 0  # the batch being filled
        self._written_no = -1  # the last batch written (or failed)
        self._writing = False
        self._failed: dict[int, BaseException] = {}

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the journal against every other writer, in this process or another (flock), e.g. to read what
        the others appended and then append what follows from it. Appends inside take it again freely."""
        with self._lock:
            if self._held:
                self._held += 1
                try:
                    yield
                finally:
                    self._held -= 1
                return
            with file_lock(self.path, os.O_RDWR | os.O_APPEND) as fd:
                self._fd, self._held, self._owner = fd, 1, threading.get_ident()
                try:
                    yield
                finally:
                    self._fd, self._held, self._owner = None, 0, None

    def _ends_torn(self, fd: int) -> bool:
        """Whether the file ends inside a line (a crash mid-write): the next record must start on a new one."""
        size = os.fstat(fd).st_size
        return size > 0 and os.pread(fd, 1, size - 1) != b"\n"

    def append(self, records: Sequence[dict[str, Any]]) -> None:
        """Write and fsync every record before returning. Appends from threads that arrive while another's are
        being written are written together after it (one write, one fsync): under 50 clients, one fsync per
        request behind the file's lock queued 16-19 request threads on it."""
        if not records:
            return
        data = "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
        if self._owner == threading.get_ident():  # inside locked(): written now, in the caller's order
            self._write(data)
            return
        with self._group:
            self._batch.append(data)
            mine = self._batch_no
            while self._writing and self._written_no < mine:
                self._group.wait()
            if self._written_no >= mine:  # another thread wrote it
                failed = self._failed.get(mine)
                if failed is not None:
                    raise failed
                return
            batch, self._batch, self._writing = self._batch, [], True
            self._batch_no += 1
        failed = None
        try:
            self._write(b"".join(batch))
        except BaseException as e:
            failed = e
            raise
        finally:
            with self._group:
                if failed is not None:
                    self._failed = {n: f for n, f in self._failed.items() if n > mine - 100}
                    self._failed[mine] = failed
                self._written_no, self._writing = mine, False
                self._group.notify_all()

    def _write(self, data: bytes) -> None:
        with self.locked():
            fd = self._fd
            assert fd is not None
            if not self._tail_checked:
                if self._ends_torn(fd):
                    data = b"\n" + data
                self._tail_checked = True
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)

    def size(self) -> int:
        """Bytes in the journal now (0 when it does not exist yet)."""
        try:
            return os.stat(self.path).st_size
        except FileNotFoundError:
            return 0

    def tail(
        self, cursor: JournalCursor | None = None, *, settled: bool = False
    ) -> tuple[list[JournalLine], JournalCursor]:
        """The whole lines appended after `cursor` (default: from the start), and the cursor after them.
        Unreadable lines come with `record` None. A last line without its newline is one being written, left
        for the next call; with `settled` the journal's lock is held while reading, so such a line is a torn
        one (a crash mid-append): it is returned, and passed over."""
        cursor = cursor or JournalCursor()
        if self.size() <= cursor.offset:
            return [], cursor
        if settled:
            with self.locked():
                return self._tail(cursor, torn=True)
        return self._tail(cursor, torn=False)

    def _tail(self, cursor: JournalCursor, *, torn: bool) -> tuple[list[JournalLine], JournalCursor]:
        with open(self.path, "rb") as f:
            f.seek(cursor.offset)
            data = f.read()
        pieces = data.split(b"\n")  # lines end at "\n" only, as iterating the file splits them
        last = pieces.pop()  # after the last newline: b"" when the data ends with one
        if torn and last:
            pieces.append(last)
        lines: list[JournalLine] = []
        offset, lineno = cursor.offset, cursor.lineno
        for i, raw in enumerate(pieces):
            start, lineno = offset, lineno + 1
            offset += len(raw) + (0 if torn and last and i == len(pieces) - 1 else 1)
            if raw.strip():
                lines.append(JournalLine(lineno, start, _parse(raw, self.path, lineno)))
        return lines, JournalCursor(offset, lineno)

    def __iter__(self) -> Iterator[JournalLine]:
        if not self.path.exists():
            return
        offset = 0
        with open(self.path, "rb") as f:
            for lineno, raw in enumerate(f, start=1):
                start, offset = offset, offset + len(raw)
                if raw.strip():
                    yield JournalLine(lineno, start, _parse(raw, self.path, lineno))

    def replay(self) -> JournalReplay:
        """Every readable record in order; unreadable lines are skipped and counted."""
        lines: list[JournalLine] = []
        skipped = 0
        for line in self:
            if line.record is not None:
                lines.append(line)
            else:
                skipped += 1
        return JournalReplay(lines, skipped)


class DailyJournal:
    """A JSONL journal split into one file per UTC day."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._journals: dict[str, JsonlJournal] = {}

    def day(self, day: date | str) -> JsonlJournal:
        name = day if isinstance(day, str) else day.isoformat()
        date.fromisoformat(name)  # refuses anything that is not a day, so no path can be smuggled in
        with self._lock:
            if name not in self._journals:
                self._journals[name] = JsonlJournal(self.directory / f"{name}.jsonl")
            return self._journals[name]

    def append(self, records: Sequence[dict[str, Any]], day: date | None = None) -> None:
        self.day(day or datetime.now(UTC).date()).append(records)

    def days(self) -> list[str]:
        if not self.directory.exists():
            return []
        return sorted(p.stem for p in self.directory.glob("*.jsonl"))
