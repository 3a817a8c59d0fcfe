"""What the vector store speaks in: index specs and versions, hits, and the rules for names and metadata."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from lakehouse_assets.core.vectors.exceptions import InvalidIndexRequest

INDEX_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,61}[a-z0-9]$")
RESERVED_METADATA = ("model", "dimension", "lakehouse_index", "revision")
EMPTY_METADATA_KEY = "_"  # stands in for an empty metadata mapping, which Chroma refuses


class IndexVersion(NamedTuple):
    """What a reader holding an index's vectors compares: its size, the revision this store stamps on
    every write, and the collection's id (a new one when the index was dropped and made again, maybe
    with another model); and the model its vectors come from."""

    count: int
    revision: str
    generation: str
    model: str


@dataclass(frozen=True)
class IndexSpec:
    name: str
    model: str
    dimension: int
    hnsw: Mapping[str, int] = field(default_factory=dict)  # ef_construction, ef_search, max_neighbors


@dataclass(frozen=True)
class IndexInfo:
    name: str
    model: str
    dimension: int
    count: int
    hnsw: dict[str, Any]


@dataclass(frozen=True)
class VectorHit:
    id: str
    distance: float | None  # cosine distance, 1 - cosine similarity; None: a document not embedded yet
    metadata: dict[str, Any]
    document: str | None

    @property
    def similarity(self) -> float | None:
        return None if self.distance is None else 1.0 - self.distance


def validate_index_name(name: str) -> str:
    """Our rule is Chroma's collection-name rule, narrowed (lowercase, at most 63 characters), so a name that
    passes here is one Chroma takes: no two periods in a row, and not an IPv4 address."""
    if not isinstance(name, str) or not INDEX_NAME_RE.fullmatch(name):
        raise InvalidIndexRequest(
            f"invalid index name {name!r}: use 3-63 characters of a-z, 0-9, '_', '.', '-', "
            "starting and ending with a letter or digit"
        )
    if ".." in name:
        raise InvalidIndexRequest(f"invalid index name {name!r}: two periods in a row")
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return name
    raise InvalidIndexRequest(f"invalid index name {name!r}: an IPv4 address cannot name an index")


def validate_metadata_keys(metadatas: Sequence[Mapping[str, Any]]) -> None:
    """Keys Chroma reserves (`chroma:...`), the one this store uses for an empty mapping (`_`), and keys a
    filter cannot name (`$...`, its operators) are refused, not sent: Chroma failed on the first with a 500
    and the second was silently dropped."""
    for i, metadata in enumerate(metadatas):
        for key in metadata:
            if not isinstance(key, str) or not key:
                raise InvalidIndexRequest(f"metadatas[{i}]: a metadata key must be non-empty text")
            if key == EMPTY_METADATA_KEY or key.startswith(("chroma:", "$")):
                raise InvalidIndexRequest(
                    f"metadatas[{i}]: metadata key {key!r} is reserved (keys may not be '_' or start with "
                    "'chroma:' or '$')"
                )


DEFAULT_HNSW = {"ef_construction": 200, "ef_search": 100, "max_neighbors": 32}


def user_metadata(meta: Mapping[str, Any] | None) -> dict[str, Any]:
    """A vector's metadata as it was given (without the placeholder that stands for an empty mapping)."""
    return {k: v for k, v in (meta or {}).items() if k != EMPTY_METADATA_KEY}


def validate_spec(spec: IndexSpec, default_hnsw: Mapping[str, int]) -> dict[str, int]:
    """The HNSW settings an index of `spec` gets (its own over the defaults); InvalidIndexRequest if the
    spec cannot describe an index."""
    validate_index_name(spec.name)
    if not spec.model:
        raise InvalidIndexRequest("an index needs the name of the model its vectors come from")
    if not isinstance(spec.dimension, int) or not 1 <= spec.dimension <= 65_536:
        raise InvalidIndexRequest(f"dimension must be an integer from 1 to 65536, not {spec.dimension!r}")
    hnsw = {**default_hnsw, **spec.hnsw}
    unknown = set(hnsw) - set(DEFAULT_HNSW)
    if unknown:
        raise InvalidIndexRequest(f"unknown HNSW settings {sorted(unknown)}; known: {sorted(DEFAULT_HNSW)}")
    return hnsw


def spec_differences(info: IndexInfo, spec: IndexSpec, hnsw: Mapping[str, int]) -> list[str]:
    """How an existing index differs from what `spec` (with `hnsw`) asks for, one phrase per setting."""
    wanted = {"space": "cosine", **hnsw}
    return [
        f"{key} {have!r} != {want!r}"
        for key, have, want in (
            ("model", info.model, spec.model),
            ("dimension", info.dimension, spec.dimension),
            *((k, info.hnsw.get(k), v) for k, v in wanted.items()),
        )
        if have != want
    ]


def validate_upsert(
    ids: Sequence[str],
    embeddings: Any,
    documents: Sequence[str] | None,
    metadatas: Sequence[Mapping[str, Any]] | None,
) -> np.ndarray:
    """The embeddings as a float32 matrix, once ids, vectors, documents and metadata agree."""
    embeddings = np.asarray(embeddings, dtype=np.float32)
    if embeddings.ndim != 2:
        raise InvalidIndexRequest("embeddings must be a 2-d array: one row per id")
    if len(ids) != len(embeddings):
        raise InvalidIndexRequest(f"{len(ids)} ids but {len(embeddings)} vectors")
    if len(set(ids)) != len(ids):
        raise InvalidIndexRequest("ids must be unique within one request")
    for seq, what in ((documents, "documents"), (metadatas, "metadatas")):
        if seq is not None and len(seq) != len(ids):
            raise InvalidIndexRequest(f"{len(ids)} ids but {len(seq)} {what}")
    if metadatas is not None:
        validate_metadata_keys(metadatas)
    return embeddings
