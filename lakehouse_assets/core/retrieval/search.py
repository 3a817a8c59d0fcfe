"""Matrix search: one text query against several corpora, merged into one ranked, explained list.

1. The query is embedded once; each requested corpus's index is searched with the metadata filter
   (and `exclude_ids`) applied inside the index, over-fetching to leave room for dedupe.
2. Hits are merged on their cosine similarity (every corpus shares one model and space, so the
   scores are comparable as they are), deduplicated by (entity, id) keeping the best.
3. With `use_playbook`, past playbooks like the query move the workers they endorsed or rejected, by a
   bounded boost (core/retrieval/playbook_boost.py).
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

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from lakehouse_assets.core.llm.downgrade import DowngradePolicy, downgrade_gate
from lakehouse_assets.core.memory.playbook_recent import RecentPlaybooks
from lakehouse_assets.core.retrieval.corpora import CORPORA, WORKERS, CorpusSpec
from lakehouse_assets.core.retrieval.exceptions import ConstraintError, SearchError
from lakehouse_assets.core.retrieval.facet_frame import FacetFrame
from lakehouse_assets.core.retrieval.filters import (
    chroma_where,
    filter_clauses,
    filter_constraints,
    filter_fields,
    translate_filter,
)
from lakehouse_assets.core.retrieval.frame_cache import FrameCache, IndexState, tier_index, vectors_of
from lakehouse_assets.core.retrieval.hybrid import describe, search_frame
from lakehouse_assets.core.retrieval.llm_parse import with_proposals
from lakehouse_assets.core.retrieval.playbook_boost import PLAYBOOK_MIN_SIMILARITY, PlaybookBoost
from lakehouse_assets.core.retrieval.query_parse import Constraint, ParseCache, ParsedQuery
from lakehouse_assets.core.retrieval.ranking import better, rank_hits
from lakehouse_assets.core.retrieval.relevance import (
    Calibrations,
    Floor,
    Relevance,
    below_floor,
    corpus_words,
    relevance_report,
)
from lakehouse_assets.core.retrieval.results import MAX_K, Hit, SearchRequest, SearchResult, hit_from, requested_corpora
from lakehouse_assets.core.vectors.embedder import Embedder
from lakehouse_assets.core.vectors.exceptions import IndexNotFound, IndexUnavailable
from lakehouse_assets.core.vectors.mirror import Mirrors
from lakehouse_assets.core.vectors.store import VectorStore
from lakehouse_assets.core.vectors.types import VectorHit

DEFAULT_MIN_SCORE = 0.56  # measured at 10,000 sample workers: absent roles top out near 0.53, role queries near 0.6+


def _anchors(c: Constraint, frame: FacetFrame) -> bool:
    """A positive constraint on a facet that describes the documents' content (a role, a certification)."""
    facet = frame.vocab.facet(c.field)
    return facet is not None and facet.semantic and c.op in ("eq", "in", "contains")


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


@dataclass
class _Gathered:
    """What the corpora answered for one search, before playbooks and the relevance floor."""

    best: dict[tuple[str, str], Hit] = field(default_factory=dict)  # (entity, entity id) -> its best hit
    keyword: dict[str, float] = field(default_factory=dict)  # document id -> BM25, in the keyword ranking's order
    admitted: int | None = None  # entities meeting every constraint (corpora with facets)
    strategy: str | None = None
    keyword_pending: bool = False
    anchored: set[str] = field(default_factory=set)  # corpora whose hits are relevant by constraint, not similarity
    states: dict[str, IndexState] = field(default_factory=dict)
    floors: dict[str, Floor] = field(default_factory=dict)  # corpus -> this query's calibrated relevance floor
    admitted_hits: dict[str, Any] = field(default_factory=dict)  # corpus -> its frame result's admitted_hits

    def add(self, spec: CorpusSpec, found: list[tuple[VectorHit, list[str], list[str]]]) -> None:
        for vh, meets, violates in found:
            hit = hit_from(spec, vh, meets=meets, violates=violates)
            key = (spec.entity, hit.entity_id)
            if key not in self.best or better(hit, self.best[key]):
                self.best[key] = hit

    def relevant(self, hit: Hit, mode: str, min_score: float) -> bool:
        """The relevance floor guards similarity-only answers ("dental hygienist" against a roster with none); a
        hit admitted by a role, certification or skill the query named is relevant by construction, and a
        document with no vector yet is there because it meets the constraints or matches the words."""
        floor = self.floors.get(hit.corpus)
        value = floor.value if floor is not None else min_score
        return hit.dense is None or hit.dense >= value or mode == "keyword" or hit.corpus in self.anchored


class _Vectors:
    """The searched text's vector per tier, embedded the first time a tier asks."""

    def __init__(self, text: str, embedder: Callable[[str], Embedder]) -> None:
        self.text, self.embedder = text, embedder
        self.made: dict[str, np.ndarray] = {}

    def __call__(self, tier: str) -> np.ndarray:
        if tier not in self.made:
            self.made[tier] = self.embedder(tier).embed_one(self.text)
        return self.made[tier]


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
        self.embedder = embedder
        self.instant = instant  # the instant tier: answers a corpus while its full-model index is incomplete
        self.mirrors = Mirrors(store)  # small indexes searched in memory (corpora without a frame)
        self.playbooks = PlaybookBoost(self.mirrors, embedder.model, recent)
        self.corpora = dict(corpora)
        self.min_score = min_score
        self.calibrations = Calibrations()
        self.policy = policy or DowngradePolicy()
        self.frames = frames
        self.chat = chat  # a ChatRouter: the optional LLM parse of leftover words (core/retrieval/llm_parse.py)
        self.llm_model, self.llm_tier = llm_model, llm_tier
        self._parses = ParseCache()

    @property
    def recent(self) -> RecentPlaybooks | None:
        """Journaled playbooks the index may not hold yet (core/memory/playbook_recent.py)."""
        return self.playbooks.recent

    @recent.setter
    def recent(self, recent: RecentPlaybooks | None) -> None:
        self.playbooks.recent = recent

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

    def _parse(self, req: SearchRequest, frames: dict[str, FacetFrame]) -> ParsedQuery | None:
        if not frames or not req.parse or req.mode != "hybrid":
            return None  # dense and keyword are the single-signal baselines: the query as written
        vocab = next(iter(frames.values())).vocab
        parsed = self._parses.parse(req.query, vocab)
        if not req.llm_parse or not parsed.unparsed:
            return parsed
        return with_proposals(parsed, self.chat, req.query, vocab, model=self.llm_model, tier=self.llm_tier)

    def search(self, req: SearchRequest) -> SearchResult:
        started = time.perf_counter()
        specs = requested_corpora(req, self.corpora)
        min_score = self.min_score if req.min_score is None else req.min_score
        frames = {s.name: f for s in specs if (f := self.frame(s)) is not None}
        parsed = self._parse(req, frames)
        explicit = self._explicit(req, frames)
        shown = self._constraints(parsed, next(iter(explicit.values()), []))
        shown_frame = next(iter(frames.values()), None)
        got = _Gathered()
        if req.parse_only:
            return self._result(req, specs, started, parsed, shown, shown_frame, got, [], 0, None, relevance={})
        text = (parsed.semantic if parsed and parsed.semantic else None) or req.query
        vectors = _Vectors(text, self._embedder)
        exclude = [str(i) for i in req.exclude_ids]
        fetch = min(MAX_K, req.k * 2 + len(exclude))
        for spec in specs:
            frame = frames.get(spec.name)
            if frame is not None:
                constraints = self._constraints(parsed, explicit[spec.name])
                self._search_frame(req, spec, frame, constraints, vectors, exclude, fetch, got)
            else:
                self._search_index(req, spec, vectors, exclude, fetch, got)
        matched = 0
        if req.use_playbook:
            # Past playbooks are stored by their whole query, so they are matched by this one's whole text (an
            # exact repeat is then an exact match); endorsed workers are scored like any hit, by the ranked text.
            asked = vectors("full") if text == req.query else self.embedder.embed_one(req.query)
            matched = self.playbooks.apply(
                vectors("full"), got.best, asked=asked, floor=self._playbook_floor(asked, frames), exclude=exclude,
                flt=req.filter, admitted_hits=got.admitted_hits.get(WORKERS.name),
                workers=WORKERS.name in (req.corpora or self.corpora) and WORKERS.name in self.corpora,
            )  # fmt: skip
        kept = [h for h in got.best.values() if got.relevant(h, req.mode, min_score)]
        ranked = rank_hits(kept, got.keyword, req.mode)
        if req.pad:
            ranked = sorted(ranked, key=lambda h: bool(h.violates))  # stable: admitted hits first
        hits = ranked[: req.k]
        overall = _overall(got.states, self.embedder.model)
        shortfall = self._shortfall(req, hits, got, len(got.best) - len(kept), overall, min_score)
        relevance = relevance_report([s.name for s in specs], got.floors, min_score, got.anchored, req.mode)
        return self._result(
            req, specs, started, parsed, shown, shown_frame, got, hits, matched, shortfall, overall=overall,
            relevance=relevance,
        )  # fmt: skip

    def _explicit(self, req: SearchRequest, frames: Mapping[str, FacetFrame]) -> dict[str, list[Constraint]]:
        """The request's filter as constraints per corpus with a frame; an operator a field's kind does not take
        is a SearchError now."""
        explicit: dict[str, list[Constraint]] = {}
        for name, frame in frames.items():
            filter_clauses(req.filter, filter_fields(self.corpora[name]), scope=f"corpus {name!r}")  # names the problem
            try:
                explicit[name] = filter_constraints(req.filter, frame)
                for c in explicit[name]:
                    frame.satisfies(c)
            except (ConstraintError, TypeError, ValueError) as e:
                raise SearchError(f"filter: {e}") from None
        return explicit

    def _search_frame(
        self, req: SearchRequest, spec: CorpusSpec, frame: FacetFrame, constraints: list[Constraint],
        vectors: _Vectors, exclude: list[str], fetch: int, got: _Gathered,
    ) -> None:  # fmt: skip
        """A corpus with a facet frame: constraints exact in memory, dense and keyword ranking over it."""
        if any(_anchors(c, frame) for c in constraints):
            got.anchored.add(spec.name)
        extra = {k: v for k, v in (req.filter or {}).items() if frame.vocab.facet(k) is None}
        tier = self._tier(spec, frame)
        empty = self.frames is not None and self.frames.index_state(spec.name, frame, tier).state == "empty"
        result = search_frame(
            self.store, tier_index(spec.index, tier), self._embedder(tier).model, frame, constraints,
            None if empty else partial(vectors, tier),
            text=vectors.text, k=req.k, fetch=fetch, exclude=exclude,
            where=chroma_where(translate_filter(extra, spec)),
            keyword=req.mode == "hybrid", keyword_only=req.mode == "keyword", pad=req.pad,
            dense=vectors_of(frame, tier),
        )  # fmt: skip
        if self.frames is not None:
            got.states[spec.name] = self.frames.index_state(spec.name, frame, tier)
        got.admitted = result.admitted if got.admitted is None else got.admitted + result.admitted
        got.strategy = result.strategy
        got.keyword.update(result.keyword)
        got.keyword_pending = got.keyword_pending or result.keyword_skipped
        got.admitted_hits[spec.name] = result.admitted_hits
        got.add(spec, [(r.hit, r.meets, r.violates) for r in result.ranked])
        if tier in vectors.made and req.min_score is None:  # ranked by meaning: judged by meaning
            floor = self.relevance(spec, frame, tier).floor(vectors.made[tier])
            if floor is not None:
                got.floors[spec.name] = floor

    def _search_index(
        self, req: SearchRequest, spec: CorpusSpec, vectors: _Vectors, exclude: list[str], fetch: int, got: _Gathered
    ) -> None:
        """A corpus without a frame (no facets, or its source dataset is gone): its index alone, filtered there."""
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
            hits = self.mirrors.query(
                spec.index, model=self.embedder.model, vector=vectors("full"), k=fetch, where=chroma_where(clauses)
            )
        except IndexNotFound:
            return  # a corpus not indexed yet contributes nothing
        except IndexUnavailable:
            got.states[spec.name] = IndexState("unavailable", 0, 0, 0, self.embedder.model)
            return
        got.add(spec, [(vh, [], []) for vh in hits])

    def _shortfall(
        self, req: SearchRequest, hits: list[Hit], got: _Gathered, dropped: int, overall: dict[str, Any] | None,
        min_score: float,
    ) -> str | None:  # fmt: skip
        """Why fewer than k hits came back, when they did."""
        if got.admitted is not None and got.admitted < req.k and not req.pad:
            return (
                f"only {got.admitted} {'entity meets' if got.admitted == 1 else 'entities meet'} every constraint; "
                f"ask with pad=true to fill up to {req.k} with near misses, each marked with what it breaks"
            )
        if len(hits) < req.k and overall is not None and overall["state"] != "ready":
            return (
                f"the index is {overall['state']}: {overall['embedded']} of {overall['documents']} documents are "
                "ranked by meaning so far; hits come from exact constraints, keywords and the embedded part"
            )
        if len(hits) < req.k and got.best:
            return below_floor(dropped, got.floors, min_score)
        return None

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

    def _result(
        self, req: SearchRequest, specs: list[CorpusSpec], started: float, parsed: ParsedQuery | None,
        constraints: list[Constraint], frame: FacetFrame | None, got: _Gathered, hits: list[Hit], matched: int,
        shortfall: str | None, *, overall: dict[str, Any] | None = None, relevance: dict[str, dict[str, Any]],
    ) -> SearchResult:  # fmt: skip
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
            admitted=got.admitted,
            shortfall=shortfall,
            strategy=got.strategy,
            keyword_pending=got.keyword_pending,
            index=overall,
            indexes={n: st.as_dict() for n, st in got.states.items()},
            relevance=relevance,
        )
