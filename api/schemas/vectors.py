"""Request and response bodies of `/v1/embed` and `/v1/vectors/...`."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, FiniteFloat, StringConstraints, model_validator

from lakehouse_assets.core.retrieval.results import MAX_K
from lakehouse_assets.core.vectors.chroma import UPSERT_BATCH
from lakehouse_assets.core.vectors.types import IndexInfo, VectorHit

MAX_EMBED_TEXTS = 256
MAX_ADD_ITEMS = UPSERT_BATCH

MetadataValue = str | int | float | bool
MetadataKey = Annotated[str, StringConstraints(min_length=1)]


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("text is empty: there is nothing to embed")
    return text


Text = Annotated[str, AfterValidator(_not_blank)]


class EmbedRequest(BaseModel):
    texts: list[str] = Field(min_length=1, max_length=MAX_EMBED_TEXTS, description="1 to 256 non-empty texts.")


class CacheCounters(BaseModel):
    """The server's embedding cache counters since it started (not only this request's)."""

    hits: int
    misses: int


class EmbedResponse(BaseModel):
    model: str
    dimension: int
    vectors: list[list[float]] = Field(description="One L2-normalized vector per text, in order.")
    cache: CacheCounters


class HnswSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ef_construction: int | None = Field(default=None, ge=1)
    ef_search: int | None = Field(default=None, ge=1)
    max_neighbors: int | None = Field(default=None, ge=2)


class CreateIndexRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(
        default=None, min_length=1, description="The model the vectors come from; default: the server's embedder."
    )
    dimension: int | None = Field(
        default=None,
        ge=1,
        le=65_536,
        description="Vector width; default: the server embedder's (required for another model).",
    )
    hnsw: HnswSettings | None = Field(default=None, description="HNSW settings; unset ones take the server's defaults.")


class IndexOut(BaseModel):
    name: str
    model: str
    dimension: int
    count: int
    hnsw: dict[str, Any]

    @classmethod
    def of(cls, info: IndexInfo) -> IndexOut:
        return cls(name=info.name, model=info.model, dimension=info.dimension, count=info.count, hnsw=info.hnsw)


class IndexList(BaseModel):
    indexes: list[IndexOut]


class VectorItem(BaseModel):
    """One vector to add: from `text` (embedded by the server) or a raw `vector`, never both."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    text: Text | None = Field(default=None, description="Embedded by the server's embedder.")
    vector: list[FiniteFloat] | None = Field(default=None, min_length=1, description="Of the index's dimension.")
    metadata: dict[MetadataKey, MetadataValue] = Field(default_factory=dict, description="Searchable by filter.")
    document: str | None = Field(default=None, description="Stored with the vector; defaults to the text.")

    @model_validator(mode="after")
    def _one_source(self) -> VectorItem:
        if (self.text is None) == (self.vector is None):
            which = "both text and vector" if self.text is not None else "neither text nor vector"
            raise ValueError(f"item {self.id!r} has {which}: give exactly one")
        return self


class AddRequest(BaseModel):
    items: list[VectorItem] = Field(min_length=1, max_length=MAX_ADD_ITEMS)


class AddResponse(BaseModel):
    index: str
    added: int
    count: int = Field(description="Vectors in the index after the add.")


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Text | None = Field(default=None, description="Query text, embedded by the server's embedder.")
    vector: list[FiniteFloat] | None = Field(default=None, min_length=1, description="Query vector.")
    k: int = Field(default=10, ge=1, le=MAX_K, description=f"Hits to return, 1 to {MAX_K}.")
    filter: dict[str, Any] | None = Field(
        default=None,
        description='Metadata filter: {"field": value}, {"field": {"gte"|"gt"|"lte"|"lt": n}}, '
        '{"field": {"in"|"nin": [..]}}, {"field": {"eq"|"ne": v}}; fields are ANDed.',
    )

    @model_validator(mode="after")
    def _one_query(self) -> SearchRequest:
        if (self.text is None) == (self.vector is None):
            raise ValueError("give exactly one of text or vector")
        return self


class SearchHit(BaseModel):
    id: str
    score: float = Field(description="Cosine similarity, 1 - distance.")
    distance: float = Field(description="Cosine distance.")
    metadata: dict[str, Any]
    document: str | None

    @classmethod
    def of(cls, hit: VectorHit) -> SearchHit:
        return cls(
            id=hit.id,
            score=round(hit.similarity, 6),
            distance=round(hit.distance, 6),
            metadata=hit.metadata,
            document=hit.document,
        )


class SearchResponse(BaseModel):
    index: str
    hits: list[SearchHit]
    elapsed_ms: float
