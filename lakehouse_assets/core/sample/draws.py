"""The random draws behind the sample roster: integer columns (role, city, skills, years, ...) drawn block by
block, each block of BLOCK rows from its own PCG64 stream, so a smaller table is an exact prefix of a larger
one with the same seed. Strings are made from these numbers in generate.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lakehouse_assets.core.sample.roster_data import (
    ADJECTIVES,
    AVAILABILITY_WEIGHTS,
    CERT_PREFIXES,
    CITIES,
    CLOSING_WEIGHTS,
    EMAIL_DOMAINS,
    ENGLISH_PERCENT,
    FIRST_NAMES,
    LAST_NAMES,
    MAX_CERTS,
    MAX_SKILLS,
    MAX_YEARS,
    NEWLINE_PER_MILLE,
    NICKNAMES,
    RAISE_YEARS_CAP,
    RATE_NOISE_CENTS,
    S1_VARIANTS,
    SECOND_LANGUAGE,
    SHIFT_WEIGHTS,
    SKILL_PREFIXES,
    THIRD_LANGUAGE_PERCENT,
    Role,
)

BLOCK = 1_000  # rows per random stream; keeps tables prefix-stable across sizes


def _weighted(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    """`n` indices drawn with integer `weights`, using integer draws only (exact on every platform)."""
    bounds = np.cumsum(weights)
    return np.searchsorted(bounds, rng.integers(0, bounds[-1], size=n), side="right")


@dataclass(frozen=True)
class Tables:
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
    language_weights: np.ndarray  # SECOND_LANGUAGE, including "English only"
    only_language_weights: np.ndarray  # SECOND_LANGUAGE without the None entry
    skill_width: int
    cert_width: int


def _offsets(counts: list[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)


def tables(roles: Sequence[Role]) -> Tables:
    skill_count = [len(r.skills) for r in roles]
    cert_count = [len(r.certs) for r in roles]
    code_count = [len(c.area_codes) for c in CITIES]
    return Tables(
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
        language_weights=np.array([w for _, w in SECOND_LANGUAGE], dtype=np.int64),
        only_language_weights=np.array([w for lang, w in SECOND_LANGUAGE if lang], dtype=np.int64),
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


def _draw_block(rng: np.random.Generator, n: int, t: Tables) -> dict[str, np.ndarray]:
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
    noise = rng.integers(-RATE_NOISE_CENTS, RATE_NOISE_CENTS + 1, size=n)
    d["rate_cents"] = t.base_cents[role] + t.cents_per_year[role] * np.minimum(years, RAISE_YEARS_CAP) + noise
    d["availability"] = _weighted(rng, np.array(AVAILABILITY_WEIGHTS), n)
    d["shift"] = _weighted(rng, np.array(SHIFT_WEIGHTS), n)

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

    english = rng.integers(0, 100, size=n) < ENGLISH_PERCENT
    second = _weighted(rng, t.language_weights, n)  # index into SECOND_LANGUAGE; 0 is None
    only = _weighted(rng, t.only_language_weights, n) + 1  # same indexing, never None
    second = np.where(english, second, only)
    third = _weighted(rng, t.only_language_weights, n) + 1
    has_third = (rng.integers(0, 100, size=n) < THIRD_LANGUAGE_PERCENT) & (second > 0) & (third != second)
    d["english"] = english
    d["second_language"] = second
    d["third_language"] = np.where(has_third, third, 0)

    d["email_domain"] = rng.integers(0, len(EMAIL_DOMAINS), size=n)
    d["s1_variant"] = rng.integers(0, S1_VARIANTS, size=n)
    d["adjective"] = rng.integers(0, len(ADJECTIVES), size=n)
    d["skill_prefix"] = rng.integers(0, len(SKILL_PREFIXES), size=n)
    d["cert_prefix"] = rng.integers(0, len(CERT_PREFIXES), size=n)
    d["closing"] = _weighted(rng, np.array(CLOSING_WEIGHTS), n)
    d["nickname"] = rng.integers(0, len(NICKNAMES), size=n)
    d["newline"] = rng.integers(0, 1000, size=n) < NEWLINE_PER_MILLE
    return d


def draw(t: Tables, seed: int, first_block: int, rows: int) -> dict[str, np.ndarray]:
    """The draws for `rows` rows starting at block `first_block`; each block has its own stream."""
    blocks = []
    for block in range(first_block, first_block - (-rows // BLOCK)):
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(block,))))
        blocks.append(_draw_block(rng, BLOCK, t))
    return {key: np.concatenate([b[key] for b in blocks])[:rows] for key in blocks[0]}
