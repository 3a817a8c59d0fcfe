"""`/v1/embed` and `/v1/vectors/...`: the embedder and the vector indexes over HTTP.

Thin over core: embedding is CachedEmbedder, indexes are VectorStore, filters are the matrix
search's filter language (`filter_clauses`) checked against the fields the index's vectors carry.
Indexes named `corpus_*` belong to the `corpus_embeddings` asset: searchable here, not writable.
"""

from __future__ import annotations

import time
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Body, Path, Response

from api.deps import EmbedderDep, VectorsDep
from api.links import INDEX_LINKS
from api.routing import Route
from api.schemas.errors import ErrorBody
from api.schemas.vectors import (
    AddRequest,
    AddResponse,
    CacheCounters,
    CreateIndexRequest,
    EmbedRequest,
    EmbedResponse,
    IndexList,
    IndexOut,
    SearchHit,
    SearchRequest,
    SearchResponse,
)
from lakehouse_assets.core.lake.catalog import CORPUS_PREFIX
from lakehouse_assets.core.retrieval.filters import chroma_where, filter_clauses
from lakehouse_assets.core.vectors.exceptions import IndexConflict, InvalidIndexRequest
from lakehouse_assets.core.vectors.types import IndexSpec

embed_router = APIRouter(prefix="/embed", tags=["vectors"], route_class=Route)
router = APIRouter(prefix="/vectors", tags=["vectors"], route_class=Route)

IndexName = Annotated[str, Path(description="Index name: 3-63 characters of a-z, 0-9, '_', '.', '-'.")]

_400 = {400: {"model": ErrorBody}}
_404 = {404: {"model": ErrorBody}}
_409 = {409: {"model": ErrorBody}}
_502 = {502: {"model": ErrorBody, "description": "The embedder is unavailable."}}


def _writable(index: str) -> None:
    if index.startswith(CORPUS_PREFIX):
        raise IndexConflict(
            f"index {index!r} is managed by the corpus_embeddings Dagster asset: materialize that asset to "
            "change it (searching it through the API is fine)"
        )


@embed_router.post("", responses={**_400, **_502})
def embed(body: EmbedRequest, embedder: EmbedderDep) -> EmbedResponse:
    """Embed 1 to 256 texts with the server's model. Vectors are L2-normalized: cosine similarity is a dot product.

    An empty text is a 400 naming its position in `texts`.
    """
    vectors = embedder.embed(body.texts)
    stats = embedder.stats()
    return EmbedResponse(
        model=embedder.model,
        dimension=embedder.dimension,
        vectors=vectors.tolist(),
        cache=CacheCounters(hits=stats.hits, misses=stats.misses),
    )


@router.get("")
def list_indexes(vectors: VectorsDep) -> IndexList:
    """Every vector index with its model, dimension, vector count and HNSW settings."""
    return IndexList(indexes=[IndexOut.of(info) for info in vectors.list_indexes()])


@router.post(
    "/{index}",
    status_code=201,
    responses={
        200: {"model": IndexOut, "links": INDEX_LINKS},
        201: {"description": "Created.", "links": INDEX_LINKS},
        **_400,
        **_409,
    },
)
def create_index(
    index: IndexName,
    vectors: VectorsDep,
    embedder: EmbedderDep,
    response: Response,
    body: Annotated[CreateIndexRequest | None, Body()] = None,
) -> IndexOut:
    """Create a cosine-space index (201). Model and dimension default to the server embedder's.

    Idempotent: the same settings again return the existing index (200); other settings are a 409 naming
    each difference.
    """
    _writable(index)  # before: a caller could pre-create corpus_workers with another model
    body = body or CreateIndexRequest()
    model = body.model or embedder.model
    if body.dimension is None and model != embedder.model:
        raise InvalidIndexRequest(
            f"give the dimension of {model!r} vectors: it defaults only for the server's model {embedder.model!r}"
        )
    dimension = body.dimension or embedder.dimension
    hnsw = body.hnsw.model_dump(exclude_none=True) if body.hnsw else {}
    info, created = vectors.create_index(IndexSpec(index, model, dimension, hnsw))
    if not created:
        response.status_code = 200
    return IndexOut.of(info)


@router.post("/{index}/add", responses={**_400, **_404, **_409, **_502})
def add_vectors(index: IndexName, body: AddRequest, vectors: VectorsDep, embedder: EmbedderDep) -> AddResponse:
    """Add (or replace, by id) up to 4096 vectors: each item gives a `text`, embedded by the server, or a raw `vector`.

    Texts need an index of the server's model; raw vectors must have the index's dimension (409 naming both).
    A vector's document defaults to its text. `corpus_*` indexes are written only by their Dagster asset (409).
    """
    _writable(index)
    info = vectors.get_index(index)
    items = body.items
    text_rows = [i for i, item in enumerate(items) if item.text is not None]
    if text_rows and (embedder.model, embedder.dimension) != (info.model, info.dimension):
        raise IndexConflict(
            f"index {index!r} holds {info.dimension}-d {info.model!r} vectors but the server embeds text with "
            f"{embedder.model!r} ({embedder.dimension}-d): send raw vectors instead"
        )
    for i, item in enumerate(items):
        if item.vector is not None and len(item.vector) != info.dimension:
            raise IndexConflict(
                f"index {index!r} holds {info.dimension}-d vectors; item {i} ({item.id!r}) is {len(item.vector)}-d"
            )
    rows = np.zeros((len(items), info.dimension), dtype=np.float32)
    if text_rows:
        rows[text_rows] = embedder.embed([items[i].text for i in text_rows])
    for i, item in enumerate(items):
        if item.vector is not None:
            rows[i] = item.vector
    added = vectors.upsert(
        index,
        model=info.model,
        ids=[item.id for item in items],
        embeddings=rows,
        documents=[item.text if item.document is None else item.document for item in items],
        metadatas=[item.metadata for item in items],
    )
    return AddResponse(index=index, added=added, count=vectors.count(index))


@router.post("/{index}/search", responses={**_400, **_404, **_409, **_502})
def search_index(index: IndexName, body: SearchRequest, vectors: VectorsDep, embedder: EmbedderDep) -> SearchResponse:
    """The `k` nearest vectors to a `text` (embedded by the server) or a raw `vector`, optionally filtered.

    `score` is the cosine similarity (1 - `distance`). A filter field that no vector in the index carries is a
    400 naming it; a query of another model or dimension than the index's is a 409.
    """
    started = time.perf_counter()
    where = None
    if body.filter:
        fields = vectors.metadata_fields(index)
        if not set(body.filter) <= fields:
            fields = vectors.metadata_fields(index, refresh=True)  # another process may have added them
        where = chroma_where(filter_clauses(body.filter, sorted(fields), scope=f"index {index!r}"))
    if body.text is not None:
        model, query = embedder.model, embedder.embed_one(body.text)
    else:
        model, query = vectors.get_index(index).model, np.asarray(body.vector, dtype=np.float32)
    hits = vectors.query(index, model=model, vector=query, k=body.k, where=where)
    return SearchResponse(
        index=index,
        hits=[SearchHit.of(h) for h in hits],
        elapsed_ms=round((time.perf_counter() - started) * 1000, 3),
    )


@router.delete("/{index}", status_code=204, responses={**_400, **_404, **_409})
def delete_index(index: IndexName, vectors: VectorsDep) -> Response:
    """Delete an index and its vectors. `corpus_*` indexes belong to the corpus_embeddings asset (409)."""
    _writable(index)
    vectors.delete_index(index)
    return Response(status_code=204)
