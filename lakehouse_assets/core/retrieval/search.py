"""Matrix search: one text query against several corpora, merged into one ranked, explained list.

1. The query is embedded once; each requested corpus's index is searched with the metadata filter
   (and `exclude_ids`) applied inside the index, over-fetching to leave room for dedupe.
2. Hits are merged on their cosine similarity (every corpus shares one model and space, so the
   scores are comparable as they are), deduplicated by (entity, id) keeping the best.
3. With `use_playbook`, past playbooks whose query clears this query's relevance floor (below; without a
   roster frame, PLAYBOOK_MIN_SIMILARITY) adjust the workers they endorsed or rejected:

       boost(w) = MAX_BOOST * (tanh(E_w) - tanh(R_w))
       E_w = sum over matching playbooks endorsing w of  clear(playbook) * weight(outcome)
       R_w = sum over matching playbooks rejecting w of  clear(playbook)
       clear(p) = min(1, (similarity(query, p) - floor) / PLAYBOOK_CLEAR)

   with weight(success) = 1, weight(partial) = 0.5, weight(failure) = 0: an exact repeat or a paraphrase of
   the request counts fully, a query just over the floor hardly at all. The boost is bounded by
   +-MAX_BOOST however many playbooks agree, so memory nudges ranking but never swamps relevance.
   Endorsed workers the index did not return are fetched and scored too.
4. Relevance is decided per corpus and per query (core/retrieval/relevance.py): a hit must be more similar to the
   query than the nearest kind of work the corpus does not hold; an empty list is an answer, and its
   `shortfall` names that nearest probe. A request's `min_score` is an absolute floor instead. Hits a
   role, certification or skill the query named admitted are relevant by construction. While a
   corpus's index is empty or being built, documents that meet the query's constraints (or match its
   words) but have no vector yet come after the ranked ones with no score; the floor never drops them,
   and the result's `index` says how much of each corpus was ranked by meaning.
5. The downgrade gate reads the result: confident, consistent top hits mean a weak local model can
   act on it; otherwise the strong model is needed, and the reason says why.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np

from lakehouse_assets.core.memory.playbook_recent import RecentPlaybooks
from lakehouse_assets.core.memory.playbooks import split_ids
from lakehouse_assets.core.retrieval.corpora import CORPORA, PLAYBOOKS, WORKERS, CorpusSpec
from lakehouse_assets.core.retrieval.facet_frame import (
    ConstraintError,
    FacetFrame,
    FrameCache,
    IndexState,
    tier_index,
    vectors_of,
)
from lakehouse_assets.core.retrieval.hybrid import describe, search_frame
from lakehouse_assets.core.retrieval.keyword import RRF_K
from lakehouse_assets.core.retrieval.llm_parse import propose
from lakehouse_assets.core.retrieval.query_parse import Constraint, ParsedQuery, parse_query
from lakehouse_assets.core.retrieval.relevance import Calibrations, Floor, Relevance, corpus_words
from lakehouse_assets.core.vectors.embedder import Embedder
from lakehouse_assets.core.vectors.mirror import IndexMirror
from lakehouse_assets.core.vectors.store import IndexNotFound, IndexUnavailable, VectorHit, VectorStore

MAX_BOOST = 0.15
PLAYBOOK_MIN_SIMILARITY = 0.6  # the floor for matching playbooks when the roster has no calibration (no frame)
PLAYBOOK_CLEAR = 0.15  # how far above the floor a playbook's query must be to count fully
PLAYBOOK_NEIGHBOURS = 20
OUTCOME_WEIGHT = {"success": 1.0, "partial": 0.5, "failure": 0.0}
DEFAULT_MIN_SCORE = 0.56  # measured at 10,000 sample workers: absent roles top out near 0.53, role queries near 0.6+
SNIPPET_CHARS = 240
MAX_K = 200
PARSE_CACHE = 4096

_RANGE_OPS = {"gt": "$gt", "gte": "$gte", "lt": "$lt", "lte": "$lte"}
_LIST_OPS = {"in": "$in", "nin": "$nin"}
_EQ_OPS = {"eq": "$eq", "ne": "$ne", "contains": "$contains", "not_contains": "$not_contains"}
_SCALARS = (str, int, float, bool)


class SearchError(ValueError):
    """A search request that cannot run as asked (unknown corpus or field, bad filter, k out of range)."""


@dataclass(frozen=True)
class Boost:
    playbook_id: str
    query: str
    similarity: float
    effect: str  # "endorsed" | "rejected"
    outcome: str


@dataclass(frozen=True)
class ScoreParts:
    """What ordered a hit: its place in the dense ranking (similarity + boost) and in the keyword ranking
    (BM25), and their reciprocal-rank fusion, which orders a hybrid search."""

    similarity: float | None = None
    boost: float = 0.0
    dense: float | None = None  # similarity + boost
    dense_rank: int | None = None  # 1-based, among the hits with a vector
    keyword: float | None = None  # BM25 score; None: the query's words did not find it
    keyword_rank: int | None = None
    fused: float | None = None  # sum of 1 / (RRF_K + rank) over the two ranks, + boost / MAX_BOOST / (RRF_K + 1)


@dataclass(frozen=True)
class Hit:
    corpus: str
    id: str
    entity: str
    entity_id: str
    # The number the list is ordered by: hybrid, the fused ranks; dense, similarity + boost; keyword, BM25.
    # None: neither ranking reached it (no vector yet, found by its constraints alone).
    score: float | None
    similarity: float | None
    distance: float | None
    metadata: dict[str, Any]
    snippet: str
    boost: float = 0.0
    why: list[Boost] = field(default_factory=list)
    meets: list[str] = field(default_factory=list)  # the constraints this hit satisfies
    violates: list[str] = field(default_factory=list)  # only on padded hits: the constraints it breaks
    parts: ScoreParts = field(default_factory=ScoreParts)

    @property
    def dense(self) -> float | None:
        """similarity + boost: what the relevance floor, the dense ranking and the downgrade gate read."""
        return None if self.similarity is None else self.similarity + self.boost


@dataclass(frozen=True)
class Downgrade:
    strong_needed: bool
    model: str | None
    reason: str


@dataclass(frozen=True)
class SearchRequest:
    query: str
    corpora: Sequence[str] | None = None
    k: int = 10
    filter: Mapping[str, Any] | None = None
    exclude_ids: Sequence[str] = ()
    min_score: float | None = None
    use_playbook: bool = False
    model: str | None = None
    parse: bool = True  # turn the query's plain-words constraints into exact filters
    parse_only: bool = False
    pad: bool = False  # fill up to k with hits that break constraints (each says which)
    mode: str = "hybrid"  # hybrid (constraints + dense + keyword fusion) | dense | keyword
    llm_parse: bool = False  # let the configured chat model propose constraints for unparsed words


MODES = ("hybrid", "dense", "keyword")


@dataclass(frozen=True)
class SearchResult:
    query: str
    corpora: list[str]
    hits: list[Hit]
    downgrade: Downgrade
    playbooks_matched: int
    elapsed_ms: float
    parsed: dict[str, Any] | None = None  # constraints (parsed and explicit), semantic text, unparsed words
    admitted: int | None = None  # entities meeting every constraint (corpora with facets)
    shortfall: str | None = None  # why fewer than k hits came back
    strategy: str | None = None  # how the vector index was asked
    keyword_pending: bool = False  # hybrid without keyword fusion: the keyword index is still being built
    index: dict[str, Any] | None = None  # how much of the corpora was ranked by meaning (all requested)
    indexes: dict[str, dict[str, Any]] = field(default_factory=dict)  # the same per corpus
    relevance: dict[str, dict[str, Any]] = field(default_factory=dict)  # per corpus: the floor and why


@dataclass(frozen=True)
class DowngradePolicy:
    weak_models: tuple[str, ...] = ()
    weak_model: str | None = None  # what to use when the gate says a weak model suffices
    confident: float = 0.55
    spread: float = 0.08
    min_hits: int = 3


def downgrade_gate(hits: Sequence[Hit], requested: str | None, policy: DowngradePolicy) -> Downgrade:
    """Does a weak local model suffice for acting on these hits, or is the strong one needed?"""
    if requested and requested in policy.weak_models:
        return Downgrade(False, requested, f"{requested} is in the weak-model list: the gate does not apply")
    if len(hits) < policy.min_hits:
        return Downgrade(True, requested, f"only {len(hits)} hits came back")
    first = [h.dense for h in hits[: policy.min_hits]]
    if None in first:
        return Downgrade(True, requested, "the index is still being built: top hits have no similarity yet")
    top, nth = max(first), min(first)  # type: ignore[type-var]
    if top < policy.confident:
        return Downgrade(True, requested, f"top score {top:.3f} is below the confidence bar {policy.confident}")
    if top - nth > policy.spread:
        return Downgrade(
            True, requested, f"top hits disagree: score falls {top - nth:.3f} over the first {policy.min_hits}"
        )
    return Downgrade(
        False,
        policy.weak_model or requested,
        f"top {policy.min_hits} hits are confident (>= {policy.confident}) and consistent (spread {top - nth:.3f})",
    )


def filter_clauses(flt: Mapping[str, Any] | None, fields: Collection[str], *, scope: str) -> list[dict[str, Any]]:
    """The filter language as Chroma `where` clauses over the metadata `fields` of `scope` (e.g. "index 'x'").

    `{field: value}` is equality; `{field: {op: value}}` takes eq/ne/contains/not_contains (a scalar),
    gt/gte/lt/lte (a number) and in/nin (a non-empty list of scalars of one type). Raises SearchError
    naming the field or operator.
    """
    clauses: list[dict[str, Any]] = []
    for name, cond in (flt or {}).items():
        if name not in fields:
            raise SearchError(f"unknown filter field {name!r} for {scope}; known: {', '.join(fields) or 'none'}")
        if not isinstance(cond, Mapping):
            if not isinstance(cond, _SCALARS):
                raise SearchError(f'filter {name!r}: give a value, or an object like {{"gte": 10}} or {{"in": [..]}}')
            clauses.append({name: {"$eq": cond}})
            continue
        if not cond:
            raise SearchError(f"filter {name!r} is an empty object")
        for op, value in cond.items():
            if op in _RANGE_OPS:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise SearchError(f"filter {name!r}: {op} needs a number, not {value!r}")
                clauses.append({name: {_RANGE_OPS[op]: value}})
            elif op in _LIST_OPS:
                if not isinstance(value, list) or not value:
                    raise SearchError(f"filter {name!r}: {op} needs a non-empty list")
                if not all(isinstance(v, _SCALARS) for v in value) or len({type(v) for v in value}) > 1:
                    raise SearchError(f"filter {name!r}: {op} needs values of one type (all text, integers, ...)")
                clauses.append({name: {_LIST_OPS[op]: value}})
            elif op in _EQ_OPS:
                if not isinstance(value, _SCALARS):
                    raise SearchError(f"filter {name!r}: {op} needs a text, number or boolean, not {value!r}")
                clauses.append({name: {_EQ_OPS[op]: value}})
            else:
                known = ", ".join([*_EQ_OPS, *_RANGE_OPS, *_LIST_OPS])
                raise SearchError(f"filter {name!r}: unknown operator {op!r}; use one of {known}")
    return clauses


def _anchors(c: Constraint, frame: FacetFrame) -> bool:
    """A positive constraint on a facet that describes the documents' content (a role, a certification)."""
    facet = frame.vocab.facet(c.field)
    return facet is not None and facet.semantic and c.op in ("eq", "in", "contains")


def _fields(spec: CorpusSpec) -> set[str]:
    """What a filter may name on this corpus: its index metadata and its facets."""
    return set(spec.metadata) | {f.field for f in spec.facets}


def translate_filter(flt: Mapping[str, Any] | None, spec: CorpusSpec) -> list[dict[str, Any]]:
    """The filter as Chroma `where` clauses for one corpus. Raises SearchError naming the problem."""
    return filter_clauses(flt, spec.metadata, scope=f"corpus {spec.name!r}")


def chroma_where(clauses: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Clauses from filter_clauses() as one Chroma `where` (None when there are none)."""
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def filter_constraints(flt: Mapping[str, Any] | None, frame: FacetFrame) -> list[Constraint]:
    """Explicit filters on facet fields as constraints (source "explicit"); other fields are left to the index."""
    out: list[Constraint] = []
    for name, cond in (flt or {}).items():
        if frame.vocab.facet(name) is None:
            continue
        items = cond.items() if isinstance(cond, Mapping) else [("eq", cond)]
        for op, value in items:
            out.append(Constraint(name, op, value, f"filter {name}", source="explicit"))
    return out


def _better(hit: Hit, than: Hit) -> bool:
    """Of two hits on one entity, the scored one, else the higher score."""
    if hit.dense is None or than.dense is None:
        return than.dense is None and hit.dense is not None
    return hit.dense > than.dense


def _rank(hits: list[Hit], keyword: Mapping[str, float], mode: str) -> list[Hit]:
    """The hits in the order of their score, each carrying its parts (ScoreParts): hybrid, by the reciprocal-
    rank fusion of the dense ranking (similarity + boost) and the keyword ranking, then the hits neither
    ranking reached (constraint matches with no vector yet) as they came; dense, by similarity + boost;
    keyword, by BM25."""
    dense_order = sorted((h for h in hits if h.dense is not None), key=lambda h: (-h.dense, h.id))  # type: ignore[operator]
    dense_rank = {h.id: i for i, h in enumerate(dense_order, 1)}
    keyword_rank = {id_: i for i, id_ in enumerate(keyword, 1)}
    keyed: list[tuple[tuple[float, float, str], Hit]] = []
    unranked: list[Hit] = []
    for h in hits:
        d, dr, kr = h.dense, dense_rank.get(h.id), keyword_rank.get(h.id)
        ranks = [r for r in (dr, kr) if r is not None]
        # A playbook boost moves the fused score too (the dense rank alone is diluted by the keyword one): a full
        # boost is worth ranking first in one more list, a rejection as much the other way.
        fused = sum(1.0 / (RRF_K + r) for r in ranks) + h.boost / MAX_BOOST / (RRF_K + 1) if ranks else None
        by = {"hybrid": fused, "dense": d, "keyword": keyword.get(h.id)}[mode]
        parts = ScoreParts(
            similarity=h.similarity, boost=h.boost, dense=None if d is None else round(d, 6), dense_rank=dr,
            keyword=keyword.get(h.id), keyword_rank=kr, fused=None if fused is None else round(fused, 6),
        )  # fmt: skip
        hit = replace(h, score=None if by is None else round(by, 6), parts=parts)
        if by is None:
            unranked.append(hit)
        else:
            # Ties: the keyword ranking's own order in keyword mode, else the better similarity.
            tie = float(kr) if mode == "keyword" and kr is not None else -(d if d is not None else -2.0)
            keyed.append(((-by, tie, h.id), hit))
    keyed.sort(key=lambda x: x[0])
    return [h for _, h in keyed] + unranked


def _overall(states: Mapping[str, IndexState], model: str) -> dict[str, Any] | None:
    """One index state for all the corpora searched: ready only when each is."""
    if not states:
        return None
    order = ("unavailable", "empty", "building", "loading", "ready")
    worst = min((st.state for st in states.values()), key=order.index)
    return {
        "state": worst,
        "embedded": sum(st.embedded for st in states.values()),
        "documents": sum(st.documents for st in states.values()),
        "model": next((st.model for st in states.values() if st.model), model),
    }


def _snippet(text: str | None) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1] + "…"


class MatrixSearch:
    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        *,
        corpora: Mapping[str, CorpusSpec] = CORPORA,
        min_score: float = DEFAULT_MIN_SCORE,
        policy: DowngradePolicy | None = None,
        frames: FrameCache | None = None,
        chat: Any | None = None,
        llm_model: str | None = None,
        llm_tier: str | None = "local_fast",
        instant: Embedder | None = None,
        recent: RecentPlaybooks | None = None,
    ) -> None:
        self.store = store
        self.recent = recent  # journaled playbooks the index may not hold yet (core/memory/playbook_recent.py)
        self.embedder = embedder
        self.instant = instant  # the instant tier: answers a corpus while its full-model index is incomplete
        self._mirrors: dict[str, IndexMirror] = {}  # small indexes searched in memory (corpora without a frame)
        self.corpora = dict(corpora)
        self.min_score = min_score
        self.calibrations = Calibrations()
        self.policy = policy or DowngradePolicy()
        self.frames = frames
        self.chat = chat  # a ChatRouter: the optional LLM parse of leftover words (core/retrieval/llm_parse.py)
        self.llm_model, self.llm_tier = llm_model, llm_tier
        self._parsed: OrderedDict[str, tuple[Any, ParsedQuery]] = OrderedDict()  # text -> (vocabulary, parse)
        self._parse_lock = threading.Lock()

    def warm_frames(self) -> None:
        """Build every corpus's facet frame now rather than on the first search."""
        for spec in self.corpora.values():
            self.frame(spec)

    def warm(self) -> None:
        """Build every corpus's facet frame and keyword index now rather than on the first search."""
        for spec in self.corpora.values():
            frame = self.frame(spec)
            if frame is not None:
                frame.keywords()

    def frame(self, spec: CorpusSpec) -> FacetFrame | None:
        """The corpus's facet frame, when it has facets and its source dataset exists."""
        if self.frames is None or not spec.facets:
            return None
        return self.frames.get(spec.name)

    def _parse_words(self, text: str, vocab: Any) -> ParsedQuery:
        """parse_query, remembered for the last PARSE_CACHE texts per vocabulary: staffing queries repeat (a
        recruiter re-runs a search, a profile swap asks again), and the parse was a twentieth of a search's CPU."""
        with self._parse_lock:
            hit = self._parsed.get(text)
            if hit is not None and hit[0] is vocab:
                self._parsed.move_to_end(text)
                return hit[1]
        parsed = parse_query(text, vocab)
        with self._parse_lock:
            self._parsed[text] = (vocab, parsed)
            if len(self._parsed) > PARSE_CACHE:
                self._parsed.popitem(last=False)
        return parsed

    def _validate(self, req: SearchRequest) -> list[CorpusSpec]:
        if not isinstance(req.query, str) or not req.query.strip():
            raise SearchError("query is empty")
        if not isinstance(req.k, int) or not 1 <= req.k <= MAX_K:
            raise SearchError(f"k must be from 1 to {MAX_K}, not {req.k!r}")
        names = list(req.corpora) if req.corpora else list(self.corpora)
        unknown = [n for n in names if n not in self.corpora]
        if unknown:
            raise SearchError(f"unknown corpus {unknown[0]!r}; corpora: {', '.join(self.corpora)}")
        specs = [self.corpora[n] for n in names]
        if req.mode not in MODES:
            raise SearchError(f"mode must be one of {', '.join(MODES)}, not {req.mode!r}")
        if req.filter:
            # A filter applies to the corpora that have its fields; a field no corpus has is an error.
            fields = set(req.filter)
            applicable = [s for s in specs if fields <= _fields(s)]
            if not applicable:
                missing = sorted(fields - set().union(*(_fields(s) for s in specs)))
                raise SearchError(
                    f"unknown filter field {missing[0] if missing else sorted(fields)[0]!r}: "
                    f"no requested corpus has all of {sorted(fields)}"
                )
            specs = applicable
        return specs

    def _parse(self, req: SearchRequest, frames: dict[str, FacetFrame]) -> ParsedQuery | None:
        if not frames or not req.parse or req.mode != "hybrid":
            return None  # dense and keyword are the single-signal baselines: the query as written
        vocab = next(iter(frames.values())).vocab
        parsed = self._parse_words(req.query, vocab)
        if not req.llm_parse or not parsed.unparsed:
            return parsed
        if self.chat is None:
            return replace(parsed, llm={"error": "no chat model is configured: the parse is the parser's alone"})
        proposal = propose(self.chat, req.query, parsed.unparsed, vocab, model=self.llm_model, tier=self.llm_tier)
        taken = {c.field for c in parsed.constraints}
        added = tuple(c for c in proposal.accepted if c.field not in taken)
        return replace(parsed, constraints=parsed.constraints + added, llm=proposal.as_dict())

    def search(self, req: SearchRequest) -> SearchResult:
        started = time.perf_counter()
        specs = self._validate(req)
        min_score = self.min_score if req.min_score is None else req.min_score
        frames = {s.name: f for s in specs if (f := self.frame(s)) is not None}
        parsed = self._parse(req, frames)
        explicit: dict[str, list[Constraint]] = {}
        for name, frame in frames.items():
            filter_clauses(req.filter, _fields(self.corpora[name]), scope=f"corpus {name!r}")  # names the problem
            try:
                explicit[name] = filter_constraints(req.filter, frame)
                for c in explicit[name]:
                    frame.satisfies(c)  # an operator the field's kind does not take is a 400 now
            except (ConstraintError, TypeError, ValueError) as e:
                raise SearchError(f"filter: {e}") from None
        shown = self._shown_constraints(parsed, explicit)
        shown_frame = next(iter(frames.values()), None)
        if req.parse_only:
            return self._result(req, specs, [], 0, started, parsed, shown, None, None, None, shown_frame)
        text = (parsed.semantic if parsed and parsed.semantic else None) or req.query
        query_vectors: dict[str, np.ndarray] = {}

        def vector_for(tier: str) -> np.ndarray:
            if tier not in query_vectors:
                query_vectors[tier] = self._embedder(tier).embed_one(text)
            return query_vectors[tier]

        exclude = [str(i) for i in req.exclude_ids]
        fetch = min(MAX_K, req.k * 2 + len(exclude))
        best: dict[tuple[str, str], Hit] = {}
        keyword: dict[str, float] = {}
        admitted: int | None = None
        strategy: str | None = None
        keyword_pending = False
        anchored: set[str] = set()  # corpora whose hits are relevant by constraint, not by similarity alone
        states: dict[str, IndexState] = {}
        floors: dict[str, Floor] = {}  # corpus -> this query's calibrated relevance floor
        admitted_hits: dict[str, Any] = {}  # corpus -> its frame result's admitted_hits
        for spec in specs:
            frame = frames.get(spec.name)
            if frame is not None:
                constraints = self._constraints(parsed, explicit[spec.name])
                if any(_anchors(c, frame) for c in constraints):
                    anchored.add(spec.name)
                extra = {k: v for k, v in (req.filter or {}).items() if frame.vocab.facet(k) is None}
                tier = self._tier(spec, frame)
                empty = self.frames is not None and self.frames.index_state(spec.name, frame, tier).state == "empty"
                result = search_frame(
                    self.store, tier_index(spec.index, tier), self._embedder(tier).model, frame, constraints,
                    None if empty else partial(vector_for, tier),
                    text=text, k=req.k, fetch=fetch, exclude=exclude,
                    where=chroma_where(translate_filter(extra, spec)),
                    keyword=req.mode == "hybrid", keyword_only=req.mode == "keyword", pad=req.pad,
                    dense=vectors_of(frame, tier),
                )  # fmt: skip
                if self.frames is not None:
                    states[spec.name] = self.frames.index_state(spec.name, frame, tier)
                admitted = result.admitted if admitted is None else admitted + result.admitted
                strategy = result.strategy
                keyword.update(result.keyword)
                keyword_pending = keyword_pending or result.keyword_skipped
                admitted_hits[spec.name] = result.admitted_hits
                found = [(r.hit, r.meets, r.violates) for r in result.ranked]
                if tier in query_vectors and req.min_score is None:  # ranked by meaning: judged by meaning
                    floor = self.relevance(spec, frame, tier).floor(query_vectors[tier])
                    if floor is not None:
                        floors[spec.name] = floor
            else:
                unindexed = sorted(set(req.filter or {}) - set(spec.metadata))
                if unindexed:
                    raise SearchError(
                        f"filter on {', '.join(unindexed)} needs corpus {spec.name!r}'s source dataset "
                        f"{spec.source!r}, which is not in the catalog"
                    )
                clauses = translate_filter(req.filter, spec)
                if exclude:
                    clauses.append({"entity_id": {"$nin": exclude}})
                try:
                    hits = self._query(spec.index, vector_for("full"), fetch, chroma_where(clauses))
                except IndexNotFound:
                    continue  # a corpus not indexed yet contributes nothing
                except IndexUnavailable:
                    states[spec.name] = IndexState("unavailable", 0, 0, 0, self.embedder.model)
                    continue
                found = [(vh, [], []) for vh in hits]
            for vh, meets, violates in found:
                hit = self._hit(spec, vh, meets=meets, violates=violates)
                key = (spec.entity, hit.entity_id)
                if key not in best or _better(hit, best[key]):
                    best[key] = hit

        matched = 0
        if req.use_playbook:
            # Past playbooks are stored by their whole query, so they are matched by this one's whole text (an
            # exact repeat is then an exact match); endorsed workers are scored like any hit, by the ranked text.
            asked = vector_for("full") if text == req.query else self.embedder.embed_one(req.query)
            matched = self._apply_playbooks(
                req, vector_for("full"), best, exclude, admitted_hits.get(WORKERS.name),
                floor=self._playbook_floor(asked, frames), asked=asked,
            )  # fmt: skip

        def floor_of(corpus: str) -> float:
            found = floors.get(corpus)
            return found.value if found is not None else min_score

        # The relevance floor guards similarity-only answers ("dental hygienist" against a roster with none);
        # a worker admitted by a role, certification or skill the query named is relevant by construction,
        # and a document with no vector yet is there because it meets the constraints or matches the words.
        kept = [
            h
            for h in best.values()
            if h.dense is None or h.dense >= floor_of(h.corpus) or req.mode == "keyword" or h.corpus in anchored
        ]
        ranked = _rank(kept, keyword, req.mode)
        if req.pad:
            ranked = sorted(ranked, key=lambda h: bool(h.violates))  # stable: admitted hits first
        hits = ranked[: req.k]
        overall = _overall(states, self.embedder.model)
        shortfall = None
        if admitted is not None and admitted < req.k and not req.pad:
            shortfall = (
                f"only {admitted} {'entity meets' if admitted == 1 else 'entities meet'} every constraint; "
                f"ask with pad=true to fill up to {req.k} with near misses, each marked with what it breaks"
            )
        elif len(hits) < req.k and overall is not None and overall["state"] != "ready":
            shortfall = (
                f"the index is {overall['state']}: {overall['embedded']} of {overall['documents']} documents are "
                "ranked by meaning so far; hits come from exact constraints, keywords and the embedded part"
            )
        elif len(hits) < req.k and best:
            shortfall = self._below_floor(len(best) - len(kept), floors, min_score)
        return self._result(
            req, specs, hits, matched, started, parsed, shown, admitted, shortfall, strategy, shown_frame,
            keyword_pending=keyword_pending, index=overall, indexes={n: st.as_dict() for n, st in states.items()},
            relevance=self._relevance_out(specs, floors, min_score, anchored, req.mode),
        )  # fmt: skip

    def relevance(self, spec: CorpusSpec, frame: FacetFrame, tier: str) -> Relevance:
        """The corpus's calibration for the tier's model (core/retrieval/relevance.py): off-topic probes the corpus's
        text does not hold, embedded by that model, made once per frame and model."""
        embedder = self._embedder(tier)

        def words() -> frozenset[str]:
            if frame.documents is not None and "text" in frame.documents.column_names:
                return corpus_words(frame.documents.column("text"))
            return corpus_words(frame.texts or [])

        return self.calibrations.get(spec.name, frame.version, embedder.model, embedder.embed, words)

    def _playbook_floor(self, vector: np.ndarray, frames: Mapping[str, FacetFrame]) -> float:
        """How similar a past playbook's query must be to count: the roster's calibrated floor for this query
        (the full model's, which indexes playbooks); without a roster frame, PLAYBOOK_MIN_SIMILARITY."""
        frame = frames.get(WORKERS.name) if WORKERS.name in self.corpora else None
        if frame is None:
            frame = self.frame(self.corpora[WORKERS.name]) if WORKERS.name in self.corpora else None
        if frame is None:
            return PLAYBOOK_MIN_SIMILARITY
        floor = self.relevance(self.corpora[WORKERS.name], frame, "full").floor(vector)
        return PLAYBOOK_MIN_SIMILARITY if floor is None else floor.value

    @staticmethod
    def _below_floor(dropped: int, floors: Mapping[str, Floor], fixed: float) -> str:
        many = "candidate was" if dropped == 1 else "candidates were"
        if not floors:
            return f"{dropped} more {many} below the relevance floor {fixed}"
        why = "; ".join(f"{c}: {f.value:.3f}, its similarity to {f.nearest!r}" for c, f in floors.items())
        return (
            f"{dropped} more {many} less similar to the query than work the corpus does not hold ({why}; "
            f"the nearest of the off-topic probes its text lacks)"
        )

    @staticmethod
    def _relevance_out(
        specs: Sequence[CorpusSpec], floors: Mapping[str, Floor], fixed: float, anchored: set[str], mode: str
    ) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for spec in specs:
            if mode == "keyword":
                out[spec.name] = {"floor": None, "basis": "keyword mode: every keyword match is kept"}
            elif spec.name in anchored:
                out[spec.name] = {"floor": None, "basis": "a role, certification or skill the query named admits"}
            elif spec.name in floors:
                out[spec.name] = {**floors[spec.name].as_dict(), "basis": "calibrated"}
            else:
                out[spec.name] = {"floor": fixed, "basis": "fixed"}
        return out

    def _query(self, index: str, vector: np.ndarray, k: int, where: dict[str, Any] | None) -> list[VectorHit]:
        """The index's nearest `k`: from its copy in memory while it is small, else from the store."""
        mirror = self._mirrors.get(index)
        if mirror is None:
            mirror = self._mirrors.setdefault(index, IndexMirror(self.store, index))
        hits = mirror.query(model=self.embedder.model, vector=vector, k=k, where=where)
        if hits is not None:
            return hits
        return self.store.query(index, model=self.embedder.model, vector=vector, k=k, where=where)

    def _embedder(self, tier: str) -> Embedder:
        return self.instant if tier == "instant" and self.instant is not None else self.embedder

    def _tier(self, spec: CorpusSpec, frame: FacetFrame) -> str:
        """Which of the corpus's indexes ranks this search (see FrameCache.answering)."""
        if self.instant is None or self.frames is None:
            return "full"
        return self.frames.answering(spec.name, frame)

    @staticmethod
    def _constraints(parsed: ParsedQuery | None, explicit: list[Constraint]) -> list[Constraint]:
        """Explicit filters win: parsed constraints on a field the caller filtered are dropped."""
        given = {c.field for c in explicit}
        return [*explicit, *(c for c in (parsed.constraints if parsed else ()) if c.field not in given)]

    def _shown_constraints(self, parsed: ParsedQuery | None, explicit: dict[str, list[Constraint]]) -> list:
        first = next(iter(explicit.values()), [])
        return self._constraints(parsed, first)

    def _result(
        self,
        req: SearchRequest,
        specs: list[CorpusSpec],
        hits: list[Hit],
        matched: int,
        started: float,
        parsed: ParsedQuery | None,
        constraints: list[Constraint],
        admitted: int | None,
        shortfall: str | None,
        strategy: str | None,
        frame: FacetFrame | None = None,
        *,
        keyword_pending: bool = False,
        index: dict[str, Any] | None = None,
        indexes: dict[str, dict[str, Any]] | None = None,
        relevance: dict[str, dict[str, Any]] | None = None,
    ) -> SearchResult:
        parse_out = None
        if parsed is not None or constraints:
            parse_out = {
                "constraints": [{**c.as_dict(), "text": describe(c, frame)} for c in constraints],
                "semantic": parsed.semantic if parsed else req.query,
                "unparsed": list(parsed.unparsed) if parsed else [],
                "llm": parsed.llm if parsed else None,
            }
        return SearchResult(
            query=req.query,
            corpora=[s.name for s in specs],
            hits=hits,
            downgrade=downgrade_gate(hits, req.model, self.policy),
            playbooks_matched=matched,
            elapsed_ms=round((time.perf_counter() - started) * 1000, 3),
            parsed=parse_out,
            admitted=admitted,
            shortfall=shortfall,
            strategy=strategy,
            keyword_pending=keyword_pending,
            index=index,
            indexes=indexes or {},
            relevance=relevance or {},
        )

    @staticmethod
    def _hit(
        spec: CorpusSpec,
        vh: VectorHit,
        boost: float = 0.0,
        why: list[Boost] | None = None,
        meets: list[str] | None = None,
        violates: list[str] | None = None,
    ) -> Hit:
        meta = {k: v for k, v in sorted(vh.metadata.items()) if k not in ("entity_id", "content_hash")}
        return Hit(
            corpus=spec.name,
            id=vh.id,
            entity=spec.entity,
            entity_id=str(vh.metadata.get("entity_id", vh.id)),
            score=None if vh.similarity is None else round(vh.similarity + boost, 6),
            similarity=None if vh.similarity is None else round(vh.similarity, 6),
            distance=None if vh.distance is None else round(vh.distance, 6),
            metadata=meta,
            snippet=_snippet(vh.document),
            boost=round(boost, 6),
            why=why or [],
            meets=meets or [],
            violates=violates or [],
        )

    def _playbook_neighbours(self, vector: np.ndarray) -> list[VectorHit]:
        """The past playbooks nearest `vector`: from the index, and from the journal's records it does not
        hold yet (acknowledged records are searchable before their vectors reach Chroma)."""
        try:
            indexed = self._query(PLAYBOOKS.index, vector, PLAYBOOK_NEIGHBOURS, None)
        except (IndexNotFound, IndexUnavailable):
            indexed = []
        if self.recent is None:
            return indexed
        nearest = {h.id: h for h in self.recent.query(vector, PLAYBOOK_NEIGHBOURS, self._playbooks_held)}
        nearest.update((h.id, h) for h in indexed)
        return sorted(nearest.values(), key=lambda h: h.distance)[:PLAYBOOK_NEIGHBOURS]

    def _playbooks_held(self, ids: Sequence[str]) -> Collection[str] | None:
        """Which of `ids` the playbooks index holds: from its copy in memory, else by asking the store."""
        mirror = self._mirrors.get(PLAYBOOKS.index)
        held = mirror.held(ids) if mirror is not None else None
        if held is not None:
            return held
        try:
            return self.store.vectors(PLAYBOOKS.index, ids).keys()
        except IndexNotFound:
            return ()
        except IndexUnavailable:
            return None

    def _apply_playbooks(
        self,
        req: SearchRequest,
        vector: np.ndarray,
        best: dict[tuple[str, str], Hit],
        exclude: list[str],
        admitted_hits: Any = None,
        floor: float = PLAYBOOK_MIN_SIMILARITY,
        asked: np.ndarray | None = None,
    ) -> int:
        """Boost or demote workers named by similar past playbooks. Returns how many playbooks matched.

        Endorsed workers the search did not return are scored too: with the roster's frame, those of them
        that meet the query's constraints (`admitted_hits`, from memory); without it, by the filter in Chroma."""
        neighbours = self._playbook_neighbours(vector if asked is None else asked)
        # A playbook counts by how far its query clears this query's relevance floor: fully from PLAYBOOK_CLEAR
        # above it (an exact repeat, a paraphrase of the request), hardly at all just over it.
        matches = [n for n in neighbours if n.similarity > floor]
        endorse: dict[str, float] = defaultdict(float)
        reject: dict[str, float] = defaultdict(float)
        why: dict[str, list[Boost]] = defaultdict(list)
        for m in matches:
            meta = m.metadata
            outcome = str(meta.get("outcome", "success"))
            pid, query = str(meta.get("playbook_id", m.id)), m.document or ""
            weight = min(1.0, (m.similarity - floor) / PLAYBOOK_CLEAR)
            for wid in split_ids(meta.get("endorsed_ids")):
                endorse[wid] += weight * OUTCOME_WEIGHT.get(outcome, 0.0)
                why[wid].append(Boost(pid, query, round(m.similarity, 6), "endorsed", outcome))
            for wid in split_ids(meta.get("rejected_ids")):
                reject[wid] += weight
                why[wid].append(Boost(pid, query, round(m.similarity, 6), "rejected", outcome))
        named = set(endorse) | set(reject)
        if not named:
            return len(matches)
        worker_corpus = WORKERS.name in (req.corpora or self.corpora) and WORKERS.name in self.corpora
        if not worker_corpus:
            return len(matches)
        missing = [w for w in named if (WORKERS.entity, w) not in best and w not in exclude]
        if missing and admitted_hits is not None:
            for r in admitted_hits(missing):
                hit = self._hit(WORKERS, r.hit, meets=r.meets, violates=r.violates)
                best[(WORKERS.entity, hit.entity_id)] = hit
        elif missing:
            self._fetch_workers(req, vector, missing, best)
        for wid in named:
            key = (WORKERS.entity, wid)
            if key not in best or best[key].similarity is None:
                continue  # no vector yet: nothing to boost
            delta = MAX_BOOST * (math.tanh(endorse.get(wid, 0.0)) - math.tanh(reject.get(wid, 0.0)))
            hit = best[key]
            best[key] = Hit(
                **{
                    **hit.__dict__,
                    "score": round(hit.similarity + delta, 6),
                    "boost": round(delta, 6),
                    "why": why[wid],
                }
            )
        return len(matches)

    def _fetch_workers(
        self, req: SearchRequest, vector: np.ndarray, worker_ids: list[str], best: dict[tuple[str, str], Hit]
    ) -> None:
        """Score endorsed workers the index search did not return (still honouring the filter)."""
        clauses = (
            translate_filter(req.filter, WORKERS) if req.filter and set(req.filter) <= set(WORKERS.metadata) else []
        )
        ids = [f"worker-{w}" for w in worker_ids]
        try:
            fetched = self.store.fetch(
                WORKERS.index, ids=ids, model=self.embedder.model, query=vector, where=chroma_where(clauses)
            )
        except (IndexNotFound, IndexUnavailable):
            return
        for vh in fetched:
            hit = self._hit(WORKERS, vh)
            best[(WORKERS.entity, hit.entity_id)] = hit
