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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from lakehouse_assets.core.sample.roster_data import (
    ADJECTIVES,
    CITIES,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    NICKNAMES,
    ROLES,
    Role,
)

MIN_ROWS = 1_000
MAX_ROWS = 500_000
_BLOCK = 1_000  # rows per random stream; keeps tables prefix-stable across sizes
_BATCH = 50 * _BLOCK  # rows assembled at a time; bounds memory while writing the CSV

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

AVAILABILITY: tuple[str, ...] = ("available", "on_assignment", "unavailable")
SHIFTS: tuple[str, ...] = ("day", "night", "swing", "weekend")
MAX_SKILLS = 5
MAX_CERTS = 3
MAX_YEARS = 40


# Second language of a worker who also speaks English (None: English only), weighted.
_SECOND_LANGUAGE: tuple[tuple[str | None, int], ...] = (
    (None, 690),
    ("Spanish", 190),
    ("Polish", 18),
    ("Vietnamese", 16),
    ("Tagalog", 14),
    ("Mandarin", 12),
    ("Arabic", 12),
    ("Russian", 9),
    ("Hindi", 9),
    ("Haitian Creole", 7),
    ("French", 7),
    ("Somali", 5),
    ("Korean", 5),
    ("Portuguese", 6),
)
_ENGLISH_PERCENT = 94  # the rest speak only non-English languages
_THIRD_LANGUAGE_PERCENT = 3
_AVAILABILITY_WEIGHTS = (45, 40, 15)
_SHIFT_WEIGHTS = (50, 20, 20, 10)
_NEWLINE_PER_MILLE = 100  # resumes with a line break
_RATE_NOISE_CENTS = 150
_RAISE_YEARS_CAP = 25

_S1_VARIANTS = 3
_SKILL_PREFIXES = ("Skilled in ", "Core skills include ", "Hands-on experience with ", "Strong background in ")
_CERT_PREFIXES = (" Holds ", " Certifications include ", " Currently holds ")
# Closing sentence: 0 none, 1 shift + languages, 2 nickname (in double quotes), 3 temp-to-hire,
# 4 languages + references, 5 transportation.
_CLOSING_WEIGHTS = (40, 20, 7, 12, 11, 10)


# -- random draws ------------------------------------------------------------------------------------


def _weighted(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    """`n` indices drawn with integer `weights`, using integer draws only (exact on every platform)."""
    bounds = np.cumsum(weights)
    return np.searchsorted(bounds, rng.integers(0, bounds[-1], size=n), side="right")


@dataclass(frozen=True)
class _Tables:
    """The vocabularies as arrays, flattened so that a row's choices are integer positions."""

    role_weights: np.ndarray
    skill_count: np.ndarray  # per role
    skill_offset: np.ndarray
    cert_count: np.ndarray
    cert_offset: np.ndarray
    licensed: np.ndarray
    base_cents: np.ndarray
    cents_per_year: np.ndarray
    city_weights: np.ndarray
    code_count: np.ndarray  # area codes per city
    code_offset: np.ndarray
    language_weights: np.ndarray  # _SECOND_LANGUAGE, including "English only"
    only_language_weights: np.ndarray  # _SECOND_LANGUAGE without the None entry
    skill_width: int
    cert_width: int


def _offsets(counts: list[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)


def _tables(roles: Sequence[Role]) -> _Tables:
    skill_count = [len(r.skills) for r in roles]
    cert_count = [len(r.certs) for r in roles]
    code_count = [len(c.area_codes) for c in CITIES]
    return _Tables(
        role_weights=np.array([r.weight for r in roles], dtype=np.int64),
        skill_count=np.array(skill_count, dtype=np.int64),
        skill_offset=_offsets(skill_count),
        cert_count=np.array(cert_count, dtype=np.int64),
        cert_offset=_offsets(cert_count),
        licensed=np.array([r.licensed for r in roles], dtype=bool),
        base_cents=np.array([r.base_cents for r in roles], dtype=np.int64),
        cents_per_year=np.array([r.cents_per_year for r in roles], dtype=np.int64),
        city_weights=np.array([c.weight for c in CITIES], dtype=np.int64),
        code_count=np.array(code_count, dtype=np.int64),
        code_offset=_offsets(code_count),
        language_weights=np.array([w for _, w in _SECOND_LANGUAGE], dtype=np.int64),
        only_language_weights=np.array([w for lang, w in _SECOND_LANGUAGE if lang], dtype=np.int64),
        skill_width=max(skill_count),
        cert_width=max(cert_count),
    )


def _choose_subset(
    rng: np.random.Generator, pool: np.ndarray, keep: np.ndarray, first_fixed: np.ndarray, width: int
) -> np.ndarray:
    """Per row, `keep` distinct positions out of `pool` (first position first when `first_fixed`).

    Returns an (n, width) int matrix of positions in 0..pool-1, ordered, with the chosen ones in the
    leading `keep` columns. Random sort keys: positions past the pool sort last, a fixed position first.
    """
    n = len(pool)
    keys = rng.integers(0, 1 << 62, size=(n, width), dtype=np.int64)
    col = np.arange(width)
    keys[col[None, :] >= pool[:, None]] = np.iinfo(np.int64).max
    keys[:, 0] = np.where(first_fixed, -1, keys[:, 0])
    order = np.argsort(keys, axis=1, kind="stable")
    return np.where(col[None, :] < keep[:, None], order, -1)


def _draw_block(rng: np.random.Generator, n: int, t: _Tables) -> dict[str, np.ndarray]:
    """Every random choice for `n` rows, as integer arrays. The draw order here is the data format."""
    d: dict[str, np.ndarray] = {}
    role = _weighted(rng, t.role_weights, n)
    d["role"] = role
    d["first"] = rng.integers(0, len(FIRST_NAMES), size=n)
    d["last"] = rng.integers(0, len(LAST_NAMES), size=n)
    city = _weighted(rng, t.city_weights, n)
    d["city"] = city
    d["area_code"] = t.code_offset[city] + rng.integers(0, t.code_count[city])
    d["phone_line"] = rng.integers(0, 100, size=n)  # 555-0100..555-0199: reserved for fiction
    # Skewed towards fewer years: the smaller of two uniform draws.
    years = np.minimum(rng.integers(0, MAX_YEARS + 1, size=n), rng.integers(0, MAX_YEARS + 1, size=n))
    d["years"] = years
    noise = rng.integers(-_RATE_NOISE_CENTS, _RATE_NOISE_CENTS + 1, size=n)
    d["rate_cents"] = t.base_cents[role] + t.cents_per_year[role] * np.minimum(years, _RAISE_YEARS_CAP) + noise
    d["availability"] = _weighted(rng, np.array(_AVAILABILITY_WEIGHTS), n)
    d["shift"] = _weighted(rng, np.array(_SHIFT_WEIGHTS), n)

    skill_pool = t.skill_count[role]
    n_skills = np.minimum(rng.integers(2, MAX_SKILLS + 1, size=n), skill_pool)
    skills = _choose_subset(rng, skill_pool, n_skills, np.zeros(n, dtype=bool), t.skill_width)
    d["skills"] = np.where(skills >= 0, t.skill_offset[role][:, None] + skills, -1)

    cert_pool = t.cert_count[role]
    licensed = t.licensed[role]
    most = np.minimum(cert_pool, MAX_CERTS)
    least = licensed.astype(np.int64)
    n_certs = rng.integers(least, most + 1)
    certs = _choose_subset(rng, cert_pool, n_certs, licensed, t.cert_width)
    d["certs"] = np.where(certs >= 0, t.cert_offset[role][:, None] + certs, -1)

    english = rng.integers(0, 100, size=n) < _ENGLISH_PERCENT
    second = _weighted(rng, t.language_weights, n)  # index into _SECOND_LANGUAGE; 0 is None
    only = _weighted(rng, t.only_language_weights, n) + 1  # same indexing, never None
    second = np.where(english, second, only)
    third = _weighted(rng, t.only_language_weights, n) + 1
    has_third = (rng.integers(0, 100, size=n) < _THIRD_LANGUAGE_PERCENT) & (second > 0) & (third != second)
    d["english"] = english
    d["second_language"] = second
    d["third_language"] = np.where(has_third, third, 0)

    d["email_domain"] = rng.integers(0, len(EMAIL_DOMAINS), size=n)
    d["s1_variant"] = rng.integers(0, _S1_VARIANTS, size=n)
    d["adjective"] = rng.integers(0, len(ADJECTIVES), size=n)
    d["skill_prefix"] = rng.integers(0, len(_SKILL_PREFIXES), size=n)
    d["cert_prefix"] = rng.integers(0, len(_CERT_PREFIXES), size=n)
    d["closing"] = _weighted(rng, np.array(_CLOSING_WEIGHTS), n)
    d["nickname"] = rng.integers(0, len(NICKNAMES), size=n)
    d["newline"] = rng.integers(0, 1000, size=n) < _NEWLINE_PER_MILLE
    return d


def _draw(t: _Tables, seed: int, first_block: int, rows: int) -> dict[str, np.ndarray]:
    """The draws for `rows` rows starting at block `first_block`; each block has its own stream."""
    blocks = []
    for block in range(first_block, first_block - (-rows // _BLOCK)):
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(block,))))
        blocks.append(_draw_block(rng, _BLOCK, t))
    return {key: np.concatenate([b[key] for b in blocks])[:rows] for key in blocks[0]}


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
    language_vocab = _vocab(["English"] + [lang or "" for lang, _ in _SECOND_LANGUAGE[1:]])
    # Matrix entries index _SECOND_LANGUAGE, whose entry 0 (None) is replaced by English above.
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
    skills_sentence = _concat(_take(_SKILL_PREFIXES, d["skill_prefix"]), skills_text, ".")
    certs_sentence = pc.fill_null(_concat(_take(_CERT_PREFIXES, d["cert_prefix"]), certs_text, "."), "")
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
    t = _tables(roles)
    for start in range(0, rows, _BATCH):
        n = min(_BATCH, rows - start)
        yield _assemble(_draw(t, seed, start // _BLOCK, n), first_id=start + 1, roles=roles)


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
