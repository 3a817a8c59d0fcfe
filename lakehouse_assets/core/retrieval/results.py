"""What a search is asked and what it answers: the request, its hits with their score parts, the result."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lakehouse_assets.core.llm.downgrade import Downgrade
from lakehouse_assets.core.retrieval.corpora import CorpusSpec
from lakehouse_assets.core.retrieval.exceptions import SearchError
from lakehouse_assets.core.retrieval.filters import filter_fields
from lakehouse_assets.core.vectors.types import VectorHit

SNIPPET_CHARS = 240
MAX_K = 200
MODES = ("hybrid", "dense", "keyword")


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


def snippet(text: str | None) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1] + "…"


def hit_from(
    spec: CorpusSpec,
    vh: VectorHit,
    boost: float = 0.0,
    why: list[Boost] | None = None,
    meets: list[str] | None = None,
    violates: list[str] | None = None,
) -> Hit:
    """A vector hit as a search hit of `spec`'s corpus."""
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
        snippet=snippet(vh.document),
        boost=round(boost, 6),
        why=why or [],
        meets=meets or [],
        violates=violates or [],
    )


def requested_corpora(req: SearchRequest, corpora: Mapping[str, CorpusSpec]) -> list[CorpusSpec]:
    """The corpora `req` searches, once it is checked: a SearchError names what cannot run as asked."""
    if not isinstance(req.query, str) or not req.query.strip():
        raise SearchError("query is empty")
    if not isinstance(req.k, int) or not 1 <= req.k <= MAX_K:
        raise SearchError(f"k must be from 1 to {MAX_K}, not {req.k!r}")
    names = list(req.corpora) if req.corpora else list(corpora)
    unknown = [n for n in names if n not in corpora]
    if unknown:
        raise SearchError(f"unknown corpus {unknown[0]!r}; corpora: {', '.join(corpora)}")
    specs = [corpora[n] for n in names]
    if req.mode not in MODES:
        raise SearchError(f"mode must be one of {', '.join(MODES)}, not {req.mode!r}")
    if req.filter:
        # A filter applies to the corpora that have its fields; a field no corpus has is an error.
        fields = set(req.filter)
        applicable = [s for s in specs if fields <= filter_fields(s)]
        if not applicable:
            missing = sorted(fields - set().union(*(filter_fields(s) for s in specs)))
            raise SearchError(
                f"unknown filter field {missing[0] if missing else sorted(fields)[0]!r}: "
                f"no requested corpus has all of {sorted(fields)}"
            )
        specs = applicable
    return specs
