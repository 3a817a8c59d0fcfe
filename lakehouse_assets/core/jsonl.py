"""Append-only JSONL journals: the one way the API records what happened (playbooks, iterate sessions, ...).

One writer (the API process). Each append is written with a single `write` on an O_APPEND descriptor
and fsync'd before it returns, so a crash leaves at most one torn last line. Replay reads every line
it can parse, in order, and counts the ones it cannot (a torn tail, a corrupt line) instead of
failing: the journal is evidence, and one bad line must not hide the rest.

A daily journal keeps one file per UTC day (`<dir>/<YYYY-MM-DD>.jsonl`), so a daily-partitioned
asset reads exactly its day.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

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


def utc_now() -> str:
    """ISO-8601 UTC timestamp with milliseconds and a Z, the format every journal record uses."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonlJournal:
    """One append-only JSONL file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._tail_checked = False

    def _ends_torn(self, fd: int) -> bool:
        """Whether the file ends inside a line (a crash mid-write): the next record must start on a new one."""
        size = os.fstat(fd).st_size
        return size > 0 and os.pread(fd, 1, size - 1) != b"\n"

    def append(self, records: Sequence[dict[str, Any]]) -> None:
        """Write and fsync every record before returning."""
        if not records:
            return
        data = "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                if not self._tail_checked:
                    if self._ends_torn(fd):
                        data = b"\n" + data
                    self._tail_checked = True
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)

    def __iter__(self) -> Iterator[JournalLine]:
        if not self.path.exists():
            return
        offset = 0
        with open(self.path, "rb") as f:
            for lineno, raw in enumerate(f, start=1):
                start, offset = offset, offset + len(raw)
                if not raw.strip():
                    continue
                try:
                    record = json.loads(raw)
                except ValueError:
                    record = None
                if not isinstance(record, dict):
                    log.warning("%s line %d is not a JSON object; skipped", self.path, lineno)
                    yield JournalLine(lineno, start, None)
                    continue
                yield JournalLine(lineno, start, record)

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
