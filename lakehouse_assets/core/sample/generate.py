"""Deterministic synthetic staffing data: workers with roles, skills, certifications and resumes.

Why it exists: the demo, the tests and the benchmarks need a realistic staffing dataset of 1,000 to
500,000 rows with nothing downloaded. The same `(rows, seed)` always gives the same table and a
byte-identical CSV, on any machine with the same dependency versions, so results can be compared run
to run.

The data is shaped to exercise the whole pipeline: skills and certifications fit each role, cities
agree with their states and phone area codes, hourly rates depend on role and experience, the CSV
quotes fields that hold commas, doubled quotes (nicknames) and line breaks (about one resume in
ten), certifications are empty for workers who hold none, and phone numbers look like
`(312) 555-0147` rather than integers. No role is dental (a query for one must find nothing).

How: every random draw comes from `numpy.random.Generator(PCG64(...))` in fixed blocks of 1,000
rows, each block with its own stream (`SeedSequence(seed, spawn_key=(block,))`), so a smaller table
is an exact prefix of a larger one with the same seed. Only integer draws and integer arithmetic
decide values (rates are whole cents), so no platform's floating point can change the output.
Strings are assembled column-wise with pyarrow compute from small vocabularies, never row by row.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from lakehouse_assets.core.sample.draws import BLOCK, draw, tables
from lakehouse_assets.core.sample.roster_data import (
    ADJECTIVES,
    AVAILABILITY,
    CERT_PREFIXES,
    CITIES,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    MAX_YEARS,
    NICKNAMES,
    ROLES,
    SECOND_LANGUAGE,
    SHIFTS,
    SKILL_PREFIXES,
    Role,
)

MIN_ROWS = 1_000
MAX_ROWS = 500_000
_BATCH = 50 * BLOCK  # rows assembled at a time; bounds memory while writing the CSV

COLUMNS: tuple[str, ...] = (
    "worker_id",
    "name",
    "role",
    "skills",
    "certifications",
    "city",
    "state",
    "years_experience",
    "hourly_rate",
    "availability",
    "shift",
    "languages",
    "phone",
    "email",
    "resume_text",
)

# -- assembling strings ------------------------------------------------------------------------------


def _vocab(values: list[str] | tuple[str, ...]) -> pa.Array:
    return pa.array(list(values), type=pa.string())


def _take(values: list[str] | tuple[str, ...], index: np.ndarray) -> pa.Array:
    return _vocab(values).take(pa.array(index))


def _concat(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation; a null part makes the result null."""
    return pc.binary_join_element_wise(*parts, "")


def _lists(vocab: pa.Array, matrix: np.ndarray, empty_is_null: bool) -> pa.ListArray:
    """One list per row of the vocabulary entries at the matrix's non-negative positions.

    Built as a ListArray rather than with `binary_join_element_wise(null_handling="skip")`, which in
    pyarrow 26 drops rows whose inputs are all null instead of returning an empty string.
    """
    chosen = matrix >= 0
    counts = chosen.sum(axis=1)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    values = vocab.take(pa.array(matrix[chosen]))
    mask = pa.array(counts == 0) if empty_is_null else None
    return pa.ListArray.from_arrays(pa.array(offsets), values, mask=mask)


def _years_phrase(years: int) -> str:
    if years == 0:
        return "less than a year of experience"
    return f"{years} year{'s' if years != 1 else ''} of experience"


def _article(word: str) -> str:
    return "an" if word[0].lower() in "aeiou" or word.startswith("HVAC") else "a"


def _assemble(d: dict[str, np.ndarray], first_id: int, roles: Sequence[Role]) -> pa.Table:
    rows = len(d["role"])
    role_names = [r.name for r in roles]
    role = _take(role_names, d["role"])
    role_cap = _take([r[0].upper() + r[1:] for r in role_names], d["role"])
    role_a = _take([f"{_article(r)} {r}" for r in role_names], d["role"])

    first = _take(FIRST_NAMES, d["first"])
    name = _concat(first, " ", _take(LAST_NAMES, d["last"]))

    skill_vocab = _vocab([s for r in roles for s in r.skills])
    cert_vocab = _vocab([c for r in roles for c in r.certs])
    skill_lists = _lists(skill_vocab, d["skills"], empty_is_null=False)
    cert_lists = _lists(cert_vocab, d["certs"], empty_is_null=True)

    city = _take([c.name for c in CITIES], d["city"])
    state = _take([c.state for c in CITIES], d["city"])
    codes = [code for c in CITIES for code in c.area_codes]
    phone = _concat(
        "(", _take(codes, d["area_code"]), ") 555-01", _take([f"{i:02d}" for i in range(100)], d["phone_line"])
    )

    languages_matrix = np.stack(
        [
            np.where(d["english"], 0, -1),
            np.where(d["second_language"] > 0, d["second_language"], -1),
            np.where(d["third_language"] > 0, d["third_language"], -1),
        ],
        axis=1,
    )
    language_vocab = _vocab(["English"] + [lang or "" for lang, _ in SECOND_LANGUAGE[1:]])
    # Matrix entries index SECOND_LANGUAGE, whose entry 0 (None) is replaced by English above.
    language_lists = _lists(language_vocab, languages_matrix, empty_is_null=False)

    first_slug = ["".join(ch for ch in f.lower() if ch.isalpha()) for f in FIRST_NAMES]
    last_slug = ["".join(ch for ch in s.lower() if ch.isalpha()) for s in LAST_NAMES]
    worker_id = pa.array(np.arange(first_id, first_id + rows, dtype=np.int64))
    email = _concat(
        _take(first_slug, d["first"]),
        ".",
        _take(last_slug, d["last"]),
        pc.cast(worker_id, pa.string()),
        "@",
        _take(EMAIL_DOMAINS, d["email_domain"]),
    )

    shift = _take(SHIFTS, d["shift"])
    skills_text = pc.binary_join(skill_lists, ", ")
    certs_text = pc.binary_join(cert_lists, ", ")
    languages_text = pc.binary_join(language_lists, ", ")
    years_text = _take([_years_phrase(y) for y in range(MAX_YEARS + 1)], d["years"])
    place = _concat(city, ", ", state)

    opening = pc.choose(
        pa.array(d["s1_variant"].astype(np.int8)),
        _concat(_take(ADJECTIVES, d["adjective"]), " ", role, " based in ", place, " with ", years_text, "."),
        _concat(first, " has ", years_text, " as ", role_a, " in the ", place, " area."),
        _concat(role_cap, " with ", years_text, ", currently living in ", place, "."),
    )
    skills_sentence = _concat(_take(SKILL_PREFIXES, d["skill_prefix"]), skills_text, ".")
    certs_sentence = pc.fill_null(_concat(_take(CERT_PREFIXES, d["cert_prefix"]), certs_text, "."), "")
    closing = pc.choose(
        pa.array(d["closing"].astype(np.int8)),
        pa.scalar(""),
        _concat(" Prefers ", shift, " shifts and speaks ", languages_text, "."),
        _concat(" Coworkers call ", first, ' "', _take(NICKNAMES, d["nickname"]), '".'),
        _concat(" Open to temp-to-hire and ", shift, " shift assignments."),
        _concat(" Speaks ", languages_text, "; references available on request."),
        pa.scalar(" Has reliable transportation and can start within a week."),
    )
    break_after_opening = pa.array(np.where(d["newline"], "\n", " "))
    resume = _concat(opening, break_after_opening, skills_sentence, certs_sentence, closing)

    columns: dict[str, pa.Array] = {
        "worker_id": worker_id,
        "name": name,
        "role": role,
        "skills": pc.binary_join(skill_lists, ";"),
        "certifications": pc.binary_join(cert_lists, ";"),
        "city": city,
        "state": state,
        "years_experience": pa.array(d["years"].astype(np.int64)),
        "hourly_rate": pa.array(d["rate_cents"] / 100.0),
        "availability": _take(AVAILABILITY, d["availability"]),
        "shift": shift,
        "languages": pc.binary_join(language_lists, ";"),
        "phone": phone,
        "email": email,
        "resume_text": resume,
    }
    return pa.table([columns[c] for c in COLUMNS], names=list(COLUMNS))


# -- public API --------------------------------------------------------------------------------------


def _check_rows(rows: int) -> None:
    if isinstance(rows, bool) or not isinstance(rows, int | np.integer):
        raise TypeError(f"rows must be an integer, got {type(rows).__name__}")
    if rows < MIN_ROWS:
        raise ValueError(f"rows must be at least {MIN_ROWS:,} (the minimum sample size), got {rows:,}")
    if rows > MAX_ROWS:
        raise ValueError(f"rows must be at most {MAX_ROWS:,} (the maximum sample size), got {rows:,}")


def _batches(rows: int, seed: int, roles: Sequence[Role]) -> Iterator[pa.Table]:
    """The sample in consecutive tables of up to _BATCH rows."""
    t = tables(roles)
    for start in range(0, rows, _BATCH):
        n = min(_BATCH, rows - start)
        yield _assemble(draw(t, seed, start // BLOCK, n), first_id=start + 1, roles=roles)


def _for_csv(batch: pa.Table) -> pa.Table:
    """Hourly rates as decimal(10, 2), so the CSV always shows two decimals (19.00, not 19)."""
    index = batch.schema.get_field_index("hourly_rate")
    cents = np.rint(batch["hourly_rate"].to_numpy() * 100).astype(np.int64)  # exact: whole cents
    words = np.empty((len(cents), 2), dtype=np.int64)  # little-endian 128-bit integers
    words[:, 0] = cents
    words[:, 1] = np.where(cents < 0, -1, 0)
    rate = pa.Array.from_buffers(pa.decimal128(10, 2), len(cents), [None, pa.py_buffer(words.tobytes())])
    return batch.set_column(index, "hourly_rate", rate)


_CSV_OPTIONS = pacsv.WriteOptions(eol="\r\n", quoting_style="needed")


def generate_workers(rows: int, seed: int = 42, roles: Sequence[Role] = ROLES) -> pa.Table:
    """A table of `rows` synthetic workers (columns in COLUMNS order); the same arguments, the same table.

    `rows` must be between MIN_ROWS and MAX_ROWS; `seed` is any non-negative integer. Workers with no
    certification have a null `certifications`. A table is a prefix of any larger one with the same seed.
    `roles`: the kinds of work drawn from (core/sample/other_roster.py holds a second vocabulary).
    """
    _check_rows(rows)
    return pa.concat_tables(_batches(int(rows), seed, roles))


def write_workers_csv(path: Path, rows: int, seed: int = 42, roles: Sequence[Role] = ROLES) -> int:
    """Write `generate_workers(rows, seed)` to `path` as an RFC 4180 CSV; returns the bytes written.

    Header row, comma separator, CRLF record ends; every string is double-quoted (quotes doubled, line
    breaks inside resumes kept), numbers are bare (hourly rates always with two decimals), and a
    missing certification is an empty, unquoted field. Rows are generated and written in batches, so
    memory stays small whatever `rows` is. The file appears atomically: it is written under a
    temporary name in the same folder, then renamed over `path`.
    """
    _check_rows(rows)
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with open(fd, "wb") as f:
            batches = _batches(int(rows), seed, roles)
            first = _for_csv(next(batches))
            with pacsv.CSVWriter(f, first.schema, write_options=_CSV_OPTIONS) as writer:
                writer.write_table(first)
                for batch in batches:
                    writer.write_table(_for_csv(batch))
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the sample is ordinary shared data
        size = tmp.stat().st_size
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return size
