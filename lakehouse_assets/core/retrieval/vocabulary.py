"""What a corpus's structured fields can say, learned from its data: the phrases a query may use for each
value, so that "RN in Ohio, not on nights" can become exact constraints.

A corpus declares its facets (which metadata columns are categories, lists or numbers, and the words
that name a number's unit); the values come from the data, by SQL over the corpus's catalog dataset.
Point the same code at another roster and its vocabulary follows. On top of each value, aliases are
derived by rules that know nothing about staffing:

- the value itself, tokenized ("CPR/First Aid" -> "cpr first aid") and with a plural "s";
- each side of a slash ("CPR", "First Aid") and a parenthesized abbreviation ("... (CPT)" -> "cpt");
- the value without generic words such as certification, license, card, class ("CDL Class A" ->
  "cdl a", "CNA certification" -> "cna"), kept only when what is left is more than one word or an
  acronym, so "forklift certification" never becomes a bare "forklift";
- "<x> certified" for "<x> certification";
- the initials of a multi-word lowercase value ("licensed practical nurse" -> "lpn");
- US state names for state codes, and a few shift words ("nights", "overnight").

Two-letter aliases that are also English words or codes ("IN", "OH", "RN", "MA") only match when the
query writes them in capitals.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

FacetKind = Literal["category", "list", "number"]

_TOKEN = re.compile(r"\$?\d+(?:\.\d+)?\+?|[A-Za-z]+(?:'[A-Za-z]+)?")
GENERIC_WORDS = frozenset(
    {"certification", "certificate", "certified", "license", "licence", "licensed", "card", "class", "endorsement"}
)
US_STATES = {
    "AL": "alabama", "AK": "alaska", "AZ": "arizona", "AR": "arkansas", "CA": "california", "CO": "colorado",
    "CT": "connecticut", "DE": "delaware", "FL": "florida", "GA": "georgia", "HI": "hawaii", "ID": "idaho",
    "IL": "illinois", "IN": "indiana", "IA": "iowa", "KS": "kansas", "KY": "kentucky", "LA": "louisiana",
    "ME": "maine", "MD": "maryland", "MA": "massachusetts", "MI": "michigan", "MN": "minnesota",
    "MS": "mississippi", "MO": "missouri", "MT": "montana", "NE": "nebraska", "NV": "nevada",
    "NH": "new hampshire", "NJ": "new jersey", "NM": "new mexico", "NY": "new york", "NC": "north carolina",
    "ND": "north dakota", "OH": "ohio", "OK": "oklahoma", "OR": "oregon", "PA": "pennsylvania",
    "RI": "rhode island", "SC": "south carolina", "SD": "south dakota", "TN": "tennessee", "TX": "texas",
    "UT": "utah", "VT": "vermont", "VA": "virginia", "WA": "washington", "WV": "west virginia",
    "WI": "wisconsin", "WY": "wyoming", "DC": "district of columbia",
}  # fmt: skip
# Everyday words for common shift values; used only for values the data actually has.
SHIFT_WORDS = {
    "night": ("nights", "overnight", "overnights", "graveyard", "third shift"),
    "day": ("days", "daytime", "first shift"),
    "swing": ("swing shift", "second shift", "evenings", "evening"),
    "weekend": ("weekends",),
}


def tokens(text: str) -> list[str]:
    """The words and numbers of `text`, as written ("$30", "10+", "IPC", "610")."""
    return _TOKEN.findall(text)


def norm(word: str) -> str:
    return word.lower()


@dataclass(frozen=True)
class Facet:
    """A metadata column a query may constrain.

    `kind`: a category (one value per document), a list (values joined by `separator`), or a number.
    `units`: for numbers, the words that say a figure is this field ("years", "$", "hour").
    `semantic`: whether the phrase also describes what the document's text is about (a role, a skill),
    so it stays in the text that is embedded; places, shifts and numbers are removed from it.
    """

    field: str
    kind: FacetKind
    label: str = ""
    separator: str = ";"
    units: tuple[str, ...] = ()
    semantic: bool = False

    @property
    def name(self) -> str:
        return self.label or self.field.replace("_", " ")


@dataclass(frozen=True)
class Meaning:
    field: str
    value: str
    exact: bool = True  # the value as written (plural included), not a derived alias


@dataclass
class Vocabulary:
    """Per facet: the distinct values with their counts (numbers: the range); and the alias index."""

    facets: tuple[Facet, ...]
    values: dict[str, dict[str, int]] = field(default_factory=dict)
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    aliases: dict[tuple[str, ...], list[Meaning]] = field(default_factory=dict)
    capitals_only: set[tuple[str, ...]] = field(default_factory=set)
    longest: int = 1

    def facet(self, name: str) -> Facet | None:
        return next((f for f in self.facets if f.field == name), None)

    def canonical(self, field_name: str, value: str) -> str | None:
        """The stored value `value` names in `field_name` (case-insensitive, or through an alias)."""
        known = self.values.get(field_name, {})
        if value in known:
            return value
        lowered = {v.lower(): v for v in known}
        if value.lower() in lowered:
            return lowered[value.lower()]
        key = tuple(norm(t) for t in tokens(value))
        for meaning in self.aliases.get(key, []):
            if meaning.field == field_name:
                return meaning.value
        return None

    def describe(self) -> dict[str, list[str]]:
        """Field -> known values, most frequent first (for an LLM prompt or a caller correcting a parse)."""
        out: dict[str, list[str]] = {}
        for f in self.facets:
            if f.kind == "number":
                lo, hi = self.ranges.get(f.field, (0, 0))
                out[f.field] = [f"number from {lo:g} to {hi:g}"]
            else:
                counts = self.values.get(f.field, {})
                out[f.field] = sorted(counts, key=lambda v: (-counts[v], v))
        return out


def _acronym(word: str) -> bool:
    return len(word) >= 2 and word.isupper() and word.isalpha()


def aliases_of(value: str, facet: Facet) -> set[str]:
    """The phrases that name `value` (see the module docstring), as written (case kept for the capitals rule)."""
    out = {value}
    if facet.field == "state" and value.upper() in US_STATES:
        out.add(US_STATES[value.upper()])
    if facet.field == "shift" and value.lower() in SHIFT_WORDS:
        out.update(SHIFT_WORDS[value.lower()])
    inner = re.search(r"\(([^)]+)\)", value)
    if inner:
        out.add(inner.group(1))
        out.add(re.sub(r"\s*\([^)]*\)", "", value))
    for part in list(out):
        if "/" in part:
            out.update(p for p in part.split("/") if p.strip())
    for part in list(out):
        words = tokens(part)
        kept = [w for w in words if w.lower() not in GENERIC_WORDS]
        if kept and len(kept) < len(words) and (len(kept) > 1 or _acronym(kept[0])):
            out.add(" ".join(kept))
        if words and words[-1].lower() == "certification":
            out.add(" ".join([*words[:-1], "certified"]))
    words = tokens(value)
    if facet.kind == "category" and len(words) >= 2 and all(w.islower() for w in words):
        out.add("".join(w[0] for w in words).upper())
    return {a.strip() for a in out if a.strip()}


def _plural(value: str) -> str | None:
    words = tokens(value)
    if words and words[-1].isalpha() and not words[-1].isupper():
        return value + "s"
    return None


def build_aliases(vocab: Vocabulary) -> None:
    """Fill `vocab.aliases`: normalized token tuple -> meanings, in facet order (earlier facets win ties)."""
    index: dict[tuple[str, ...], list[Meaning]] = defaultdict(list)
    capitals: set[tuple[str, ...]] = set()

    def add(alias: str, meaning: Meaning) -> None:
        words = tokens(alias)
        if not words:
            return
        key = tuple(norm(w) for w in words)
        if meaning not in index[key]:
            index[key].append(meaning)
        if len(words) == 1 and len(words[0]) <= 2 and words[0].isupper():
            capitals.add(key)

    for facet in vocab.facets:
        if facet.kind == "number":
            continue
        values = list(vocab.values.get(facet.field, {}))
        # An acronym of 3+ letters that occurs in exactly one value names it ("AWS" -> "AWS certified welder").
        holders: dict[str, set[str]] = defaultdict(set)
        for value in values:
            for w in tokens(value):
                if len(w) >= 3 and _acronym(w):
                    holders[w].add(value)
        for value in values:
            add(value, Meaning(facet.field, value))
            plural = _plural(value)
            if plural:
                add(plural, Meaning(facet.field, value))
            for alias in aliases_of(value, facet) - {value}:
                add(alias, Meaning(facet.field, value, exact=False))
        for acronym, owners in holders.items():
            if len(owners) == 1:
                add(acronym, Meaning(facet.field, next(iter(owners)), exact=False))
    vocab.aliases = dict(index)
    vocab.capitals_only = capitals
    vocab.longest = max((len(k) for k in index), default=1)


def vocabulary_from_counts(
    facets: Sequence[Facet], values: Mapping[str, Mapping[str, int]], ranges: Mapping[str, tuple[float, float]]
) -> Vocabulary:
    vocab = Vocabulary(
        facets=tuple(facets),
        values={k: dict(v) for k, v in values.items()},
        ranges=dict(ranges),
    )
    build_aliases(vocab)
    return vocab


def learn_vocabulary(conn: object, table: str, facets: Iterable[Facet]) -> Vocabulary:
    """The vocabulary of `table` (a DuckDB relation name) by SQL: distinct values with counts, number ranges."""
    facets = tuple(facets)
    values: dict[str, dict[str, int]] = {}
    ranges: dict[str, tuple[float, float]] = {}
    for f in facets:
        col = '"' + f.field.replace('"', '""') + '"'
        if f.kind == "number":
            ((lo, hi),) = conn.sql(f"SELECT min({col}), max({col}) FROM {table}").fetchall()  # type: ignore[attr-defined]
            ranges[f.field] = (float(lo or 0), float(hi or 0))
            continue
        if f.kind == "list":
            sep = f.separator.replace("'", "''")
            sql = (
                f"SELECT trim(v) AS v, count(*) FROM (SELECT unnest(string_split({col}, '{sep}')) AS v FROM {table}) "
                "WHERE v IS NOT NULL AND trim(v) <> '' GROUP BY 1"
            )
        else:
            sql = f"SELECT CAST({col} AS VARCHAR), count(*) FROM {table} WHERE {col} IS NOT NULL GROUP BY 1"
        values[f.field] = {str(v): int(n) for v, n in conn.sql(sql).fetchall()}  # type: ignore[attr-defined]
    return vocabulary_from_counts(facets, values, ranges)
