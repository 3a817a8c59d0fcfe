from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class MatrixSearchRequest(BaseModel):
    query: str = Field(description="What the caller is looking for, in plain words.")
    corpora: list[str] | None = Field(default=None, description="Corpora to search; default all.")
    k: int = Field(default=10, ge=1, le=200)
    filter: dict[str, Any] | None = Field(
        default=None,
        description='Metadata filter: {"state": "IL", "hourly_rate": {"lte": 30}, "shift": {"in": ["night"]}}.',
    )
    exclude_ids: list[str] = Field(default_factory=list, description="Entity ids to leave out (e.g. worker ids).")
    min_score: float | None = Field(
        default=None,
        ge=-1,
        le=2,
        description="An absolute relevance floor on similarity + boost for this search (0 keeps every ranked hit). "
        "Default: decided per corpus and per query, a hit must be more similar to the query than the nearest "
        "kind of work the corpus does not hold (see `relevance` in the response).",
    )
    use_playbook: bool = Field(default=False, description="Boost workers endorsed for similar past queries.")
    model: str | None = Field(default=None, description="Model the caller means to act with (for the downgrade gate).")
    parse: bool = Field(
        default=True,
        description="Turn plain-words constraints in the query (role, certification, place, shift, language, "
        "years, rate, negations) into exact filters; explicit `filter` fields win over parsed ones.",
    )
    parse_only: bool = Field(default=False, description="Return the parse (constraints, semantic text) and no hits.")
    pad: bool = Field(
        default=False,
        description="When fewer than k entities meet the constraints, fill with near misses naming what they break.",
    )
    llm_parse: bool = Field(
        default=False,
        description="Let the configured chat model propose constraints for words the parser left unparsed; "
        "each proposal is checked against the data's values before use.",
    )
    mode: Literal["hybrid", "dense", "keyword"] = Field(
        default="hybrid",
        description="hybrid: parsed constraints + dense ranking fused with BM25; dense: embedding only; keyword: "
        "BM25 only (both without the parse; explicit filters still apply).",
    )


class BoostOut(BaseModel):
    playbook_id: str
    query: str
    similarity: float
    effect: Literal["endorsed", "rejected"]
    outcome: str


class ScorePartsOut(BaseModel):
    similarity: float | None = Field(description="Cosine similarity of the query and the document.")
    boost: float = Field(description="Playbook boost (endorsements lift, rejections lower; at most +-0.15).")
    dense: float | None = Field(description="similarity + boost: the dense ranking's key.")
    dense_rank: int | None = Field(description="Place in the dense ranking (1 = first); null without a vector.")
    keyword: float | None = Field(description="BM25 score of the query's words; null when they did not find it.")
    keyword_rank: int | None = Field(description="Place in the keyword ranking (1 = first).")
    fused: float | None = Field(
        description="Reciprocal-rank fusion of the two places, sum of 1 / (60 + rank), plus boost / 0.15 / 61 (a "
        "full playbook boost is worth ranking first in one more list); orders a hybrid search."
    )


class HitOut(BaseModel):
    corpus: str
    id: str
    entity: str
    entity_id: str
    score: float | None = Field(
        description="The number the hits are ordered by: hybrid, `parts.fused`; dense, similarity + boost; keyword, "
        "BM25. Null for a document neither ranking reached (no vector yet while its corpus's index is built): it "
        "is here because it meets every constraint, after the scored hits. With pad=true, near misses come after "
        "the hits that meet every constraint."
    )
    parts: ScorePartsOut = Field(description="What the score is made of, to see why one hit is above another.")
    similarity: float | None
    distance: float | None
    boost: float
    metadata: dict[str, Any]
    snippet: str
    why: list[BoostOut]
    meets: list[str] = Field(default_factory=list, description="The constraints this hit satisfies.")
    violates: list[str] = Field(default_factory=list, description="Padded hits only: the constraints it breaks.")


class DowngradeOut(BaseModel):
    strong_needed: bool
    model: str | None
    reason: str


class ConstraintOut(BaseModel):
    field: str
    op: Literal["eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "contains", "not_contains"]
    value: Any
    phrase: str = Field(description="The words of the query (or the filter) it came from.")
    source: Literal["parser", "llm", "explicit"]
    text: str = Field(description='As a person reads it: "state = IL", "certification: OSHA 10".')


class ParsedOut(BaseModel):
    constraints: list[ConstraintOut]
    semantic: str = Field(description="What was embedded and keyword-matched once constraints were taken out.")
    unparsed: list[str] = Field(description="Words that are neither a known value nor filler.")
    llm: dict[str, Any] | None = Field(
        default=None, description="With llm_parse: the model, the constraints accepted and rejected (and why)."
    )


class IndexStateOut(BaseModel):
    state: Literal["empty", "building", "loading", "ready", "unavailable"] = Field(
        description="empty: nothing embedded yet; building: the index lacks documents (being written); loading: "
        "the index is complete and its vectors are being read into memory; ready: every document is ranked by "
        "meaning; unavailable: the vector store could not be read just now"
    )
    embedded: int = Field(description="Documents ranked by meaning in this search.")
    documents: int = Field(description="Documents in the corpus.")
    indexed: int | None = Field(default=None, description="Vectors in the corpus's index.")
    model: str = Field(description="The embedding model of the vectors that ranked this search.")


class RelevanceOut(BaseModel):
    floor: float | None = Field(description="Lowest similarity + boost kept; null when no floor applied.")
    basis: str = Field(
        description="calibrated: the query's similarity to the nearest off-topic probe the corpus's text lacks; "
        "fixed: an absolute floor (the request's min_score, or the server's for a corpus without a frame); "
        "otherwise why no floor applied (a named role, certification or skill admitted the hits; keyword mode)"
    )
    nearest_absent: str | None = Field(default=None, description="calibrated: that nearest off-topic probe.")
    probes: int | None = Field(default=None, description="calibrated: how many probes the corpus was held against.")


class MatrixSearchResponse(BaseModel):
    query: str
    corpora: list[str]
    hits: list[HitOut]
    downgrade: DowngradeOut
    playbooks_matched: int
    elapsed_ms: float
    parsed: ParsedOut | None = Field(default=None, description="The constraints applied, to see and correct.")
    admitted: int | None = Field(default=None, description="Entities meeting every constraint.")
    shortfall: str | None = Field(default=None, description="Why fewer than k hits came back.")
    strategy: str | None = Field(default=None, description="How the vector index was searched for the constraints.")
    keyword_pending: bool = Field(
        default=False,
        description="True when hybrid ranking went without keyword fusion because the corpus's keyword index "
        "is still being built (large rosters build it in the background; GET /health shows it).",
    )
    index: IndexStateOut | None = Field(
        default=None,
        description="How much of the searched corpora was ranked by meaning: while an index is empty or being "
        "built, hits still come from the exact constraints and keywords over every document.",
    )
    indexes: dict[str, IndexStateOut] = Field(default_factory=dict, description="The same, per corpus.")
    relevance: dict[str, RelevanceOut] = Field(
        default_factory=dict, description="Per corpus: the relevance floor this search applied, and why."
    )


class PlaybookIn(BaseModel):
    query: str
    endorsed_ids: list[str | int] = Field(default_factory=list)
    rejected_ids: list[str | int] = Field(default_factory=list)
    outcome: Literal["success", "partial", "failure"] = "success"
    contract_id: str | None = None


class PlaybookBulkIn(BaseModel):
    records: list[PlaybookIn] = Field(min_length=1, max_length=1000)


class PlaybookRecordResponse(BaseModel):
    recorded: int
    playbook_ids: list[str]
    indexed: int = Field(
        description="Records of this request new to playbook memory (one journaled before with the same content "
        "is not counted again). All of them are searchable for `use_playbook` when the response comes; their "
        "vectors reach the `playbooks` index just after."
    )
