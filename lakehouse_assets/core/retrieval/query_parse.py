"""A staffing query in plain words -> exact constraints over the corpus's fields + the semantic rest.

    "welder in Ohio with at least 10 years, not on nights"
    -> role = welder, state = OH, years_experience >= 10, shift != night; semantic text "welder"

Deterministic and fast (well under a millisecond): numbers first (a comparator, a figure, a unit the
facet declares: "at least 10 years", "10+ years", "under $30 an hour", "between 20 and 25 dollars"),
then the longest phrase the vocabulary knows, left to right; a negation word shortly before a phrase
("not", "no", "except", "without", ...) turns it into an exclusion. Several values of one category
become `in` (Chicago or Joliet); several values of a list field must all be held. What places, shifts
and numbers said is taken out of the text that is embedded; roles, skills and certifications stay in
it, since that is what a worker's document is about. Words left over that are not filler are
`unparsed`, for an optional LLM to look at.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from typing import Any

from lakehouse_assets.core.retrieval.vocabulary import GENERIC_WORDS, Facet, Meaning, Vocabulary, norm, tokens

NEGATIONS = frozenset({"not", "no", "non", "except", "excluding", "without", "never", "avoid", "isn't", "aren't"})
_FILLER_WORDS = """
    a an the in on at of for with and or who is are to from near around within any some speaks
    speaking speaker speakers fluent shift shifts worker workers someone somebody person people
    need needs needed looking want wanted find experience experienced year years yr yrs hour hourly
    hr per rate pay paid dollars dollar usd available please that has have having holding holds
"""
FILLER = frozenset(_FILLER_WORDS.split())
_BEFORE: dict[tuple[str, ...], str] = {
    ("at", "least"): "gte", ("no", "less", "than"): "gte", ("minimum",): "gte", ("min",): "gte",
    ("minimum", "of"): "gte", ("not", "less", "than"): "gte",
    ("at", "most"): "lte", ("no", "more", "than"): "lte", ("up", "to"): "lte", ("maximum",): "lte",
    ("max",): "lte", ("maximum", "of"): "lte", ("not", "more", "than"): "lte",
    ("more", "than"): "gt", ("over",): "gt", ("above",): "gt", ("greater", "than"): "gt",
    ("higher", "than"): "gt", ("upwards", "of"): "gt",
    ("less", "than"): "lt", ("under",): "lt", ("below",): "lt", ("fewer", "than"): "lt",
    ("lower", "than"): "lt", ("cheaper", "than"): "lt", ("beneath",): "lt",
}  # fmt: skip
_AFTER: dict[tuple[str, ...], str] = {
    ("or", "more"): "gte", ("plus",): "gte", ("and", "up"): "gte", ("and", "above"): "gte", ("or", "above"): "gte",
    ("or", "higher"): "gte", ("or", "less"): "lte", ("or", "fewer"): "lte", ("or", "under"): "lte",
    ("or", "below"): "lte", ("or", "lower"): "lte", ("and", "under"): "lte", ("and", "below"): "lte",
}  # fmt: skip
_NUMBER = re.compile(r"^\$?(\d+(?:\.\d+)?)\+?$")
NEGATION_REACH = 3  # words between a negation and the phrase it negates (fillers only)


@dataclass(frozen=True)
class Constraint:
    """One condition on one field. `op`: eq ne in nin gt gte lt lte contains not_contains."""

    field: str
    op: str
    value: Any
    phrase: str
    source: str = "parser"  # parser | llm | explicit

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "op": self.op, "value": self.value, "phrase": self.phrase, "source": self.source}


@dataclass(frozen=True)
class ParsedQuery:
    query: str
    constraints: tuple[Constraint, ...]
    semantic: str  # what is embedded and keyword-matched
    unparsed: tuple[str, ...] = ()
    llm: dict[str, Any] | None = field(default=None)


@dataclass
class _Token:
    text: str
    low: str
    used: bool = False
    semantic: bool = True  # stays in the semantic text
    say: str | None = None  # what the semantic text says instead (an alias's value: "RN" -> "registered nurse")


def _number(tok: str) -> float | None:
    m = _NUMBER.match(tok)
    return float(m.group(1)) if m else None


def _unit_facet(vocab: Vocabulary, words: list[str], dollar: bool) -> Facet | None:
    """The number facet whose unit words appear in `words` (or which takes "$" when the figure had one)."""
    numbers = [f for f in vocab.facets if f.kind == "number"]
    if dollar:
        for f in numbers:
            if "$" in f.units:
                return f
    for w in words:
        for f in numbers:
            if w in f.units:
                return f
    return None


def _clean_number(value: float) -> int | float:
    return int(value) if value == int(value) else value


def _protected(toks: list[_Token], vocab: Vocabulary) -> set[int]:
    """Positions of figures that belong to a vocabulary phrase ("OSHA 30", "EPA 608"): not numbers to parse."""
    out: set[int] = set()
    for i in range(len(toks)):
        n, _ = _match_at(toks, i, vocab)
        if n and any(_number(t.text) is not None for t in toks[i : i + n]):
            out.update(range(i, i + n))
    return out


def _parse_numbers(toks: list[_Token], vocab: Vocabulary) -> list[Constraint]:
    out: list[Constraint] = []
    protected = _protected(toks, vocab)
    i = 0
    while i < len(toks):
        first = _number(toks[i].text)
        if first is None or toks[i].used or i in protected:
            i += 1
            continue
        start, end = i, i + 1
        dollar = toks[i].text.startswith("$")
        plus = toks[i].text.endswith("+")
        low: float | None = first
        high: float | None = None
        op: str | None = "gte" if plus else None
        # a range: "between 20 and 25", "from 20 to 25", "20 to 25", "20-25" ("$20-$25")
        j = end
        if j < len(toks) and toks[j].low in ("and", "to", "through") and j + 1 < len(toks):
            second = _number(toks[j + 1].text)
            if second is not None:
                high, end = second, j + 2
                dollar = dollar or toks[j + 1].text.startswith("$")
        elif j < len(toks) and _number(toks[j].text) is not None and not plus:
            high, end = _number(toks[j].text), j + 1
            dollar = dollar or toks[j].text.startswith("$")
        if high is not None:
            if start >= 1 and toks[start - 1].low in ("between", "from"):
                start -= 1
            op = "between"
        else:
            for n in (3, 2, 1):
                before = tuple(t.low for t in toks[max(0, start - n) : start])
                if len(before) == n and before in _BEFORE:
                    op, start = _BEFORE[before], start - n
                    break
        # unit words right after (or before: "rate under 30", "pay below $30")
        after = []
        for t in toks[end : end + 4]:
            if _number(t.text) is not None:
                break  # the next figure's words are its own
            after.append(t.low)
        before_words = [t.low for t in toks[max(0, start - 3) : start]]
        facet = _unit_facet(vocab, after, dollar) or _unit_facet(vocab, before_words, dollar)
        if facet is None:
            i = end
            continue
        if op is None:
            for n in (2, 1):
                following = tuple(t.low for t in toks[end : end + n])
                if len(following) == n and following in _AFTER:
                    op, end = _AFTER[following], end + n
                    break
        # consume the unit phrase that follows: "years of experience", "an hour", "dollars per hour"
        while end < len(toks) and (toks[end].low in facet.units or toks[end].low in ("of", "an", "a", "per")):
            if toks[end].low in ("an", "a", "per", "of") and not (
                end + 1 < len(toks) and (toks[end + 1].low in facet.units or toks[end + 1].low == "experience")
            ):
                break
            end += 1
        if end < len(toks) and toks[end].low == "experience":
            end += 1
        if op is None:
            op = "gte" if "$" not in facet.units else "lte"  # "10 years": at least; "$30 an hour": at most
        phrase = " ".join(t.text for t in toks[start:end])
        if op == "between":
            lo, hi = sorted((low, high))  # type: ignore[type-var]
            out.append(Constraint(facet.field, "gte", _clean_number(lo), phrase))
            out.append(Constraint(facet.field, "lte", _clean_number(hi), phrase))
        else:
            out.append(Constraint(facet.field, op, _clean_number(first), phrase))
        for t in toks[start:end]:
            t.used, t.semantic = True, False
        i = end
    return out


def _match_at(toks: list[_Token], i: int, vocab: Vocabulary) -> tuple[int, list[Meaning]]:
    """(length, meanings) of the longest vocabulary phrase starting at token i, exact values preferred."""
    for n in range(min(vocab.longest, len(toks) - i), 0, -1):
        window = toks[i : i + n]
        if any(t.used for t in window):
            continue
        key = tuple(t.low for t in window)
        meanings = vocab.aliases.get(key)
        if not meanings:
            continue
        if key in vocab.capitals_only and not window[0].text.isupper():
            continue
        exact = [m for m in meanings if m.exact]
        return n, exact or meanings
    return 0, []


def _negated(toks: list[_Token], i: int) -> int | None:
    """The index of a negation word shortly before token i (only fillers between), else None."""
    j, seen = i - 1, 0
    while j >= 0 and seen <= NEGATION_REACH:
        if toks[j].low in NEGATIONS:
            return j
        if toks[j].low not in FILLER or toks[j].used:
            return None
        j, seen = j - 1, seen + 1
    return None


def parse_query(text: str, vocab: Vocabulary) -> ParsedQuery:
    """Constraints, semantic text and unparsed words of `text` over `vocab` (see the module docstring)."""
    toks = [_Token(t, norm(t)) for t in tokens(text)]
    constraints = _parse_numbers(toks, vocab)
    equal: dict[str, list[tuple[str, str]]] = defaultdict(list)  # field -> [(value, phrase)]
    unequal: dict[str, list[tuple[str, str]]] = defaultdict(list)
    i = 0
    while i < len(toks):
        n, meanings = _match_at(toks, i, vocab)
        if not n:
            i += 1
            continue
        meaning = meanings[0]  # facet order decides between fields (a role before a skill)
        facet = vocab.facet(meaning.field)
        assert facet is not None
        phrase = " ".join(t.text for t in toks[i : i + n])
        neg = _negated(toks, i)
        if neg is not None:
            unequal[facet.field].append((meaning.value, " ".join(t.text for t in toks[neg : i + n])))
            for t in toks[neg : i + n]:
                t.used, t.semantic = True, False
        else:
            equal[facet.field].append((meaning.value, phrase))
            for t in toks[i : i + n]:
                t.used, t.semantic, t.say = True, facet.semantic, ""
            if not meaning.exact:
                toks[i].say = meaning.value  # the embedding knows "registered nurse" better than "RN"
            else:
                for t in toks[i : i + n]:
                    t.say = None
        i += n
    for field_name, found in equal.items():
        facet = vocab.facet(field_name)
        values = list(dict.fromkeys(v for v, _ in found))
        phrase = ", ".join(dict.fromkeys(p for _, p in found))
        if facet is not None and facet.kind == "list":
            constraints.extend(Constraint(field_name, "contains", v, p) for v, p in found)
        elif len(values) == 1:
            constraints.append(Constraint(field_name, "eq", values[0], phrase))
        else:
            constraints.append(Constraint(field_name, "in", values, phrase))
    for field_name, found in unequal.items():
        facet = vocab.facet(field_name)
        for v, p in found:
            constraints.append(Constraint(field_name, "not_contains" if facet and facet.kind == "list" else "ne", v, p))
    semantic_words = [
        t.text if t.say is None else t.say
        for t in toks
        if t.semantic and (t.used or t.low not in FILLER | NEGATIONS) and t.say != ""
    ]
    unparsed: list[str] = []
    run: list[str] = []
    for t in toks:
        if not t.used and t.low not in FILLER | NEGATIONS | GENERIC_WORDS and _number(t.text) is None:
            run.append(t.text)
        elif run:
            unparsed.append(" ".join(run))
            run = []
    if run:
        unparsed.append(" ".join(run))
    return ParsedQuery(text, tuple(constraints), " ".join(semantic_words), tuple(unparsed))


class ParseCache:
    """parse_query, remembered for the last `size` texts per vocabulary: staffing queries repeat (a recruiter
    re-runs a search, a profile swap asks again), and the parse was a twentieth of a search's CPU."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._parsed: OrderedDict[str, tuple[Vocabulary, ParsedQuery]] = OrderedDict()
        self._lock = threading.Lock()

    def parse(self, text: str, vocab: Vocabulary) -> ParsedQuery:
        with self._lock:
            hit = self._parsed.get(text)
            if hit is not None and hit[0] is vocab:
                self._parsed.move_to_end(text)
                return hit[1]
        parsed = parse_query(text, vocab)
        with self._lock:
            self._parsed[text] = (vocab, parsed)
            if len(self._parsed) > self.size:
                self._parsed.popitem(last=False)
        return parsed
