"""Matrix search: one text query against several corpora, merged into one ranked, explained list.

1. The query is embedded once; each requested corpus's index is searched with the metadata filter
   (and `exclude_ids`) applied inside the index, over-fetching to leave room for dedupe.
2. Hits are merged on their cosine similarity (every corpus shares one model and space, so the
   scores are comparable as they are), deduplicated by (entity, id) keeping the best.
3. With `use_playbook`, past playbooks whose query is similar (>= PLAYBOOK_MIN_SIMILARITY) adjust
   the workers they endorsed or rejected:

       boost(w) = MAX_BOOST * (tanh(E_w) - tanh(R_w))
       E_w = sum over matching playbooks endorsing w of  similarity(query, playbook) * weight(outcome)
       R_w = sum over matching playbooks rejecting w of  similarity(query, playbook)

   with weight(success) = 1, weight(partial) = 0.5, weight(failure) = 0. The boost is bounded by
   +-MAX_BOOST however many playbooks agree, so memory nudges ranking but never swamps relevance.
   Endorsed workers the index did not return are fetched and scored too.
4. Hits whose final score is below the relevance floor are dropped: an empty list is an answer.
5. The downgrade gate reads the result: confident, consistent top hits mean a weak local model can
   act on it; otherwise the strong model is needed, and the reason says why.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lakehouse_assets.core.corpora import CORPORA, PLAYBOOKS, WORKERS, CorpusSpec
from lakehouse_assets.core.embedder import Embedder
from lakehouse_assets.core.playbooks import split_ids
from lakehouse_assets.core.vectors import IndexNotFound, VectorHit, VectorStore

MAX_BOOST = 0.15
PLAYBOOK_MIN_SIMILARITY = 0.6
PLAYBOOK_NEIGHBOURS = 20
OUTCOME_WEIGHT = {"success": 1.0, "partial": 0.5, "failure": 0.0}
DEFAULT_MIN_SCORE = 0.52  # measured on the sample: off-topic roles top out near 0.49, role queries start near 0.6
SNIPPET_CHARS = 240
MAX_K = 200

_RANGE_OPS = {"gt": "$gt", "gte": "$gte", "lt": "$lt", "lte": "$lte"}
_LIST_OPS = {"in": "$in", "nin": "$nin"}
_EQ_OPS = {"eq": "$eq", "ne": "$ne"}
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
class Hit:
    corpus: str
    id: str
    entity: str
    entity_id: str
    score: float  # similarity + playbook boost
    similarity: float
    distance: float
    metadata: dict[str, Any]
    snippet: str
    boost: float = 0.0
    why: list[Boost] = field(default_factory=list)


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


@dataclass(frozen=True)
class SearchResult:
    query: str
    corpora: list[str]
    hits: list[Hit]
    downgrade: Downgrade
    playbooks_matched: int
    elapsed_ms: float


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
        return Downgrade(True, requested, f"only {len(hits)} hits cleared the relevance floor")
    top, nth = hits[0].score, hits[policy.min_hits - 1].score
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

    `{field: value}` is equality; `{field: {op: value}}` takes eq/ne (a scalar), gt/gte/lt/lte (a number)
    and in/nin (a non-empty list of scalars of one type). Raises SearchError naming the field or operator.
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


def translate_filter(flt: Mapping[str, Any] | None, spec: CorpusSpec) -> list[dict[str, Any]]:
    """The filter as Chroma `where` clauses for one corpus. Raises SearchError naming the problem."""
    return filter_clauses(flt, spec.metadata, scope=f"corpus {spec.name!r}")


def chroma_where(clauses: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Clauses from filter_clauses() as one Chroma `where` (None when there are none)."""
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


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
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.corpora = dict(corpora)
        self.min_score = min_score
        self.policy = policy or DowngradePolicy()

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
        if req.filter:
            # A filter applies to the corpora that have its fields; a field no corpus has is an error.
            fields = set(req.filter)
            applicable = [s for s in specs if fields <= set(s.metadata)]
            if not applicable:
                missing = sorted(fields - set().union(*(s.metadata for s in specs)))
                raise SearchError(
                    f"unknown filter field {missing[0] if missing else sorted(fields)[0]!r}: "
                    f"no requested corpus has all of {sorted(fields)}"
                )
            specs = applicable
        return specs

    def search(self, req: SearchRequest) -> SearchResult:
        started = time.perf_counter()
        specs = self._validate(req)
        min_score = self.min_score if req.min_score is None else req.min_score
        vector = self.embedder.embed_one(req.query)
        exclude = [str(i) for i in req.exclude_ids]
        fetch = min(MAX_K, req.k * 2 + len(exclude))
        best: dict[tuple[str, str], Hit] = {}
        for spec in specs:
            clauses = translate_filter(req.filter, spec)
            if exclude:
                clauses.append({"entity_id": {"$nin": exclude}})
            try:
                found = self.store.query(
                    spec.index, model=self.embedder.model, vector=vector, k=fetch, where=chroma_where(clauses)
                )
            except IndexNotFound:
                continue  # a corpus not indexed yet contributes nothing
            for vh in found:
                hit = self._hit(spec, vh)
                key = (spec.entity, hit.entity_id)
                if key not in best or hit.score > best[key].score:
                    best[key] = hit

        matched = 0
        if req.use_playbook:
            matched = self._apply_playbooks(req, vector, best, exclude)

        hits = sorted((h for h in best.values() if h.score >= min_score), key=lambda h: (-h.score, h.id))[: req.k]
        return SearchResult(
            query=req.query,
            corpora=[s.name for s in specs],
            hits=hits,
            downgrade=downgrade_gate(hits, req.model, self.policy),
            playbooks_matched=matched,
            elapsed_ms=round((time.perf_counter() - started) * 1000, 3),
        )

    @staticmethod
    def _hit(spec: CorpusSpec, vh: VectorHit, boost: float = 0.0, why: list[Boost] | None = None) -> Hit:
        meta = {k: v for k, v in sorted(vh.metadata.items()) if k not in ("entity_id", "content_hash")}
        return Hit(
            corpus=spec.name,
            id=vh.id,
            entity=spec.entity,
            entity_id=str(vh.metadata.get("entity_id", vh.id)),
            score=round(vh.similarity + boost, 6),
            similarity=round(vh.similarity, 6),
            distance=round(vh.distance, 6),
            metadata=meta,
            snippet=_snippet(vh.document),
            boost=round(boost, 6),
            why=why or [],
        )

    def _apply_playbooks(
        self, req: SearchRequest, vector: np.ndarray, best: dict[tuple[str, str], Hit], exclude: list[str]
    ) -> int:
        """Boost or demote workers named by similar past playbooks. Returns how many playbooks matched."""
        try:
            neighbours = self.store.query(
                PLAYBOOKS.index, model=self.embedder.model, vector=vector, k=PLAYBOOK_NEIGHBOURS
            )
        except IndexNotFound:
            return 0
        matches = [n for n in neighbours if n.similarity >= PLAYBOOK_MIN_SIMILARITY]
        endorse: dict[str, float] = defaultdict(float)
        reject: dict[str, float] = defaultdict(float)
        why: dict[str, list[Boost]] = defaultdict(list)
        for m in matches:
            meta = m.metadata
            outcome = str(meta.get("outcome", "success"))
            pid, query = str(meta.get("playbook_id", m.id)), m.document or ""
            for wid in split_ids(meta.get("endorsed_ids")):
                endorse[wid] += m.similarity * OUTCOME_WEIGHT.get(outcome, 0.0)
                why[wid].append(Boost(pid, query, round(m.similarity, 6), "endorsed", outcome))
            for wid in split_ids(meta.get("rejected_ids")):
                reject[wid] += m.similarity
                why[wid].append(Boost(pid, query, round(m.similarity, 6), "rejected", outcome))
        named = set(endorse) | set(reject)
        if not named:
            return len(matches)
        worker_corpus = WORKERS.name in (req.corpora or self.corpora) and WORKERS.name in self.corpora
        if not worker_corpus:
            return len(matches)
        missing = [w for w in named if (WORKERS.entity, w) not in best and w not in exclude]
        if missing:
            self._fetch_workers(req, vector, missing, best)
        for wid in named:
            key = (WORKERS.entity, wid)
            if key not in best:
                continue
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
        for vh in self.store.fetch(
            WORKERS.index, ids=ids, model=self.embedder.model, query=vector, where=chroma_where(clauses)
        ):
            hit = self._hit(WORKERS, vh)
            best[(WORKERS.entity, hit.entity_id)] = hit
