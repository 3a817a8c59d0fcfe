"""Type inference for CSV columns: strict patterns, and VARCHAR whenever a value is ambiguous.

A column becomes numeric only if every value looks like a canonical number. Leading zeros
(`00123`), plus signs, thousands separators, mixed values, and columns whose name says they hold
identifiers that merely look numeric (ZIP codes, phone numbers) stay VARCHAR, so no value is ever
changed by a round trip through the lake.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse_assets.core.lake.arrow_types import arrow_type

# Widening order: a value that breaks a type moves the column to the next one that holds it.
BIGINT, DOUBLE, BOOLEAN, DATE, TIMESTAMP, VARCHAR = (
    "BIGINT",
    "DOUBLE",
    "BOOLEAN",
    "DATE",
    "TIMESTAMP",
    "VARCHAR",
)

_PATTERNS: dict[str, str] = {
    BIGINT: r"^-?(0|[1-9][0-9]{0,17})$",  # at most 18 digits: always fits int64
    # A fraction is required: integer-shaped values too long for BIGINT are identifiers, not doubles.
    DOUBLE: r"^-?(0|[1-9][0-9]*)(\.[0-9]+)([eE][-+]?[0-9]{1,2})?$|^-?(0|[1-9][0-9]{0,14})([eE][-+]?[0-9]{1,2})?$",
    BOOLEAN: r"^(?i:true|false)$",
    DATE: r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
    TIMESTAMP: r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?$",
}
_CANDIDATES = (BIGINT, DOUBLE, BOOLEAN, DATE, TIMESTAMP)

# Column names that hold identifiers which look like numbers but are not quantities (whole words of
# the name: `hotel_rate` and `missing_count` are quantities).
_IDENTIFIER_NAME = re.compile(
    r"(^|[^a-z])(zip|zipcode|postal|postcode|phone|mobile|cell|fax|tel|telephone|ssn|sin|iban|account)([^a-z]|$)",
    re.I,
)
MAX_DOUBLE_DIGITS = 15  # a double keeps any 15 significant decimal digits exactly as written


def _digits_ok(valid: pa.ChunkedArray | pa.Array) -> bool:
    """No DOUBLE literal has more significant digits than a double holds (the value would change).

    Only values longer than MAX_DOUBLE_DIGITS characters can have that many digits: the others are
    not looked at digit by digit (the regex passes were most of an ingest's type checking)."""
    valid = valid.filter(pc.greater(pc.utf8_length(valid), MAX_DOUBLE_DIGITS))
    if len(valid) == 0:
        return True
    mantissa = pc.replace_substring_regex(valid, r"[eE].*$", "")
    digits = pc.utf8_ltrim(pc.replace_substring_regex(mantissa, r"[^0-9]", ""), characters="0")
    return pc.max(pc.utf8_length(digits)).as_py() <= MAX_DOUBLE_DIGITS


def fits(values: pa.ChunkedArray | pa.Array, sql: str) -> bool:
    """True when every non-null value of a string column is a valid `sql` literal."""
    if sql == VARCHAR:
        return True
    valid = values.drop_null() if hasattr(values, "drop_null") else values
    if len(valid) == 0:
        return True
    if not pc.all(pc.match_substring_regex(valid, _PATTERNS[sql])).as_py():
        return False
    if sql == DOUBLE and not _digits_ok(valid):
        return False
    if sql in (DATE, TIMESTAMP):  # the pattern admits 2024-13-45; the cast does not
        try:
            pc.cast(valid, pa.date32() if sql == DATE else pa.timestamp("us"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return False
    return True


def infer_type(name: str, values: pa.ChunkedArray | pa.Array) -> str:
    """The narrowest type that holds every value of the string column `values`."""
    if _IDENTIFIER_NAME.search(name.replace("_", " ")):
        return VARCHAR
    if values.null_count == len(values):
        return VARCHAR
    for sql in _CANDIDATES:
        if fits(values, sql):
            return sql
    return VARCHAR


def widen(current: str, values: pa.ChunkedArray | pa.Array) -> str:
    """The type a column moves to when `values` do not fit `current`."""
    if current == BIGINT and fits(values, DOUBLE):
        return DOUBLE
    return VARCHAR


def first_misfit(values: pa.Array, sql: str) -> int | None:
    """Index of the first value that is not a valid `sql` literal (for error messages)."""
    for i, v in enumerate(values.to_pylist()):
        if v is not None and not fits(pa.array([v], pa.string()), sql):
            return i
    return None


def convert(values: pa.Array, sql: str) -> pa.Array:
    """Cast a string column whose values fit `sql` to its Arrow type."""
    if sql == VARCHAR:
        return values
    if sql == BOOLEAN:
        return pc.equal(pc.utf8_lower(values), "true")
    if sql == TIMESTAMP:
        return pc.cast(pc.replace_substring(values, "T", " ", max_replacements=1), pa.timestamp("us"))
    return pc.cast(values, arrow_type(sql))
