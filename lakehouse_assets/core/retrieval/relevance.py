"""Relevance decided per corpus and per query: is a hit closer to the query than work the corpus does not hold?

One absolute cosine cannot say. Measured with MiniLM on the sample roster and a second one with other role
names (core/sample/other_roster.py), a paraphrase of a role the roster holds ("drives big rigs cross country")
tops out at 0.35-0.49, a role it lacks ("dental hygienist") at 0.51-0.53, and the static model's scale is
another again; z-scores against the corpus's own similarity distribution overlap as well (paraphrases 2.8-7.8
standard deviations above the query's mean, off-topic queries 2.6-5.0).

What separates them is a comparison the query makes with itself: its similarity to the documents against
its similarity to occupations the corpus lacks. OFF_TOPIC names work from every major occupational group
(management to transportation); the probes whose head noun appears in the corpus's own text are dropped
(a roster of security officers loses "security guard"), so the rest is what this corpus does not hold. A
document is relevant to a query when it is more similar to the query than the nearest remaining probe is:
"dental hygienist" is nearer "orthodontist" (0.57) than any worker (0.53) and gets nothing; "drives big
rigs cross country" is nearer the truck drivers (0.39) than any probe (0.24). On both rosters and both the
full and static models every labeled paraphrase's top 10 clears the floor (by 0.05 or more) and every
absent role's best document falls below it (by 0.03 or more). The floor follows the model: probes are
embedded by the same model as the query, so each tier carries its own calibration.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse_assets.core.vectors.embedder import unit_rows

# Work from each major occupational group; a corpus keeps those it does not hold (see `probes_for`).
OFF_TOPIC: tuple[str, ...] = (
    "chief executive", "marketing manager", "hotel general manager",  # management
    "tax accountant", "financial analyst", "insurance underwriter",  # business and financial
    "software developer", "database administrator", "statistician",  # computer and mathematical
    "civil engineer", "architect", "aerospace engineer",  # architecture and engineering
    "marine biologist", "chemist", "astronomer", "economist", "psychologist",  # sciences
    "social worker", "clergy member",  # community and social service
    "attorney", "judge", "paralegal",  # legal
    "university professor", "kindergarten teacher", "librarian",  # education
    "graphic designer", "actor", "musician", "journalist", "photographer", "professional athlete",  # arts, media
    "surgeon", "pediatrician", "veterinarian", "optometrist", "orthodontist", "pharmacist",  # practitioners
    "massage therapist", "veterinary technician",  # healthcare support
    "firefighter", "police detective",  # protective service
    "pastry chef", "sommelier",  # food preparation
    "landscaper", "pest control",  # grounds
    "hair stylist", "personal trainer", "flight attendant", "tour guide",  # personal care and service
    "real estate agent", "stockbroker", "car salesman",  # sales
    "court reporter", "travel agent",  # office specialties
    "farmer", "commercial fisherman", "logger",  # farming, fishing, forestry
    "roofer", "plumber", "miner",  # construction and extraction
    "aircraft mechanic", "watch repairer",  # installation and repair
    "jeweler", "baker", "tailor",  # production
    "ship captain", "air traffic controller", "locomotive engineer",  # transportation
)  # fmt: skip


def corpus_words(texts: pa.Array | pa.ChunkedArray | Sequence[str]) -> frozenset[str]:
    """The lowercase words of a corpus's texts (one pass in Arrow, not Python)."""
    array = texts if isinstance(texts, pa.Array | pa.ChunkedArray) else pa.array(list(texts), type=pa.string())
    words = pc.split_pattern_regex(pc.utf8_lower(array), r"[^a-z0-9]+")
    return frozenset(w for w in pc.unique(pc.list_flatten(words)).to_pylist() if w)


def probes_for(words: Iterable[str]) -> tuple[str, ...]:
    """The OFF_TOPIC probes whose head noun (the last word) the corpus's text never uses."""
    held = set(words)
    return tuple(p for p in OFF_TOPIC if p.split()[-1] not in held)


@dataclass(frozen=True)
class Floor:
    value: float
    nearest: str  # the off-topic probe the query is most similar to
    probes: int

    def as_dict(self) -> dict[str, object]:
        return {"floor": round(self.value, 6), "nearest_absent": self.nearest, "probes": self.probes}


@dataclass(frozen=True)
class Relevance:
    """One corpus's calibration for one model: its off-topic probes, embedded by that model."""

    model: str
    probes: tuple[str, ...]
    vectors: np.ndarray  # unit rows, one per probe

    def floor(self, query: np.ndarray) -> Floor | None:
        """The similarity a document needs to be relevant to `query`: the query's to its nearest probe."""
        if not len(self.probes):
            return None
        q = unit_rows(np.reshape(np.asarray(query, dtype=np.float32), (1, -1)))[0]
        sims = self.vectors @ q
        best = int(np.argmax(sims))
        return Floor(float(sims[best]), self.probes[best], len(self.probes))


def calibrate(model: str, embed: Callable[[list[str]], np.ndarray], words: Iterable[str]) -> Relevance:
    probes = probes_for(words)
    vectors = unit_rows(np.asarray(embed(list(probes)), dtype=np.float32)) if probes else np.zeros((0, 1))
    return Relevance(model, probes, vectors)


class Calibrations:
    """Relevance per (corpus vocabulary, model), made on first use and kept: probes are embedded once per
    model (tens of short texts), the vocabulary read once per frame. Thread-safe."""

    def __init__(self, keep: int = 32) -> None:
        self._lock = threading.Lock()
        self._made: dict[tuple[str, str, str], Relevance] = {}
        self._keep = keep

    def get(
        self, corpus: str, version: str, model: str, embed: Callable[[list[str]], np.ndarray],
        words: Callable[[], Iterable[str]],
    ) -> Relevance:  # fmt: skip
        key = (corpus, version, model)
        with self._lock:
            found = self._made.get(key)
        if found is not None:
            return found
        made = calibrate(model, embed, words())
        with self._lock:
            if len(self._made) >= self._keep:
                self._made.pop(next(iter(self._made)))
            return self._made.setdefault(key, made)


def below_floor(dropped: int, floors: Mapping[str, Floor], fixed: float) -> str:
    """The shortfall of a search whose `dropped` candidates the floors (calibrated, else `fixed`) kept out."""
    many = "candidate was" if dropped == 1 else "candidates were"
    if not floors:
        return f"{dropped} more {many} below the relevance floor {fixed}"
    why = "; ".join(f"{c}: {f.value:.3f}, its similarity to {f.nearest!r}" for c, f in floors.items())
    return (
        f"{dropped} more {many} less similar to the query than work the corpus does not hold ({why}; "
        f"the nearest of the off-topic probes its text lacks)"
    )


def relevance_report(
    corpora: Sequence[str], floors: Mapping[str, Floor], fixed: float, anchored: Collection[str], mode: str
) -> dict[str, dict[str, Any]]:
    """Per corpus searched: the floor its hits had to clear, and why that one."""
    out: dict[str, dict[str, Any]] = {}
    for name in corpora:
        if mode == "keyword":
            out[name] = {"floor": None, "basis": "keyword mode: every keyword match is kept"}
        elif name in anchored:
            out[name] = {"floor": None, "basis": "a role, certification or skill the query named admits"}
        elif name in floors:
            out[name] = {**floors[name].as_dict(), "basis": "calibrated"}
        else:
            out[name] = {"floor": fixed, "basis": "fixed"}
    return out
