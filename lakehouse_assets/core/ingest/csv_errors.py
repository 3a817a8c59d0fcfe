"""Where a CSV went wrong: the physical line of a ragged row, a bad UTF-8 sequence, a quote never closed,
or the record a value came from. Error paths only: they re-read the file, after the fast parser failed."""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from lakehouse_assets.core.ingest.exceptions import BadCsv


def locate_ragged_row(path: Path, expected: int) -> tuple[int, int]:
    """(physical line, field count) of the first record whose field count is wrong. Error path only."""
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
        reader = csv.reader(f)
        line = 1
        for record in reader:
            # Blank lines are skipped, as the reader skips them (in a one-column file they are empty values).
            if (record or expected == 1) and len(record or [""]) != expected:
                return line, len(record)
            line = reader.line_num + 1
    return line, expected


def locate_bad_utf8(path: Path) -> int | None:
    """Physical line of the first invalid UTF-8 sequence. Error path only."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                decoder.decode(raw)
            except UnicodeDecodeError:
                return lineno
    return None


def odd_quote_count(path: Path) -> bool:
    """A well-formed CSV has an even number of '"' bytes; an odd count means a quote never closed.

    Reads into one reusable buffer that numpy scans without holding the GIL, so it runs beside the
    conversion at a fixed memory cost.
    """
    buffer = bytearray(8 << 20)
    view = np.frombuffer(buffer, dtype=np.uint8)
    count = 0
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buffer):
            count += int(np.count_nonzero(view[:n] == ord('"')))
    return count % 2 == 1


def quote_error(path: Path) -> BadCsv:
    """The strict parser's account of a quoted field left open (pyarrow would take the rest as data)."""
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
        reader = csv.reader(f, strict=True)
        start = 1
        try:
            for _ in reader:
                start = reader.line_num + 1
        except csv.Error as e:
            return BadCsv(f"malformed quoting: {e}", line=start)
    # The strict parser accepted it: a stray '"' inside an unquoted field. Name the line where the
    # count of quotes last turned odd, where the unmatched one is.
    odd, opened = False, None
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            if raw.count(b'"') % 2:
                odd = not odd
                if odd:
                    opened = lineno
    return BadCsv("malformed quoting: a '\"' is never closed (quote fields that contain quotes)", line=opened)


def _record_lines(path: Path, columns: int) -> Iterator[int]:
    """Physical line on which each data record starts (record 0 is the first after the header)."""
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
        reader = csv.reader(f)
        next(reader, None)
        start = reader.line_num + 1
        for record in reader:
            if record or columns == 1:  # blank lines are no records (but an empty value in one column is)
                yield start
            start = reader.line_num + 1


def line_of_record(path: Path, index: int, columns: int) -> int | None:
    for i, line in enumerate(_record_lines(path, columns)):
        if i == index:
            return line
    return None
