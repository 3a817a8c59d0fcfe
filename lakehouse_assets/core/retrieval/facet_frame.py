"""A corpus's facet columns in memory, so constraints are evaluated exactly and in a millisecond.

Built by the corpus's `facet_sql` over its source dataset (the roster itself, so constraints are checked
against the latest structured data, not a copy in the vector index). Categories are stored as integer
codes, list fields as one boolean column per value, numbers as float arrays: a constraint is a numpy
comparison over all entities, and their conjunction is the admitted set with its exact size, which is
what decides how the vector search is run (see core/retrieval/search.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse_assets.core.lake.arrow_types import one_chunk
from lakehouse_assets.core.retrieval.exceptions import ConstraintError
from lakehouse_assets.core.retrieval.keyword import KeywordIndex
from lakehouse_assets.core.retrieval.query_parse import Constraint
from lakehouse_assets.core.retrieval.vocabulary import Facet, Vocabulary, learn_vocabulary
from lakehouse_assets.core.vectors.embedder import unit_rows
from lakehouse_assets.core.vectors.exceptions import IndexNotFound
from lakehouse_assets.core.vectors.indexing import index_metadata_columns
from lakehouse_assets.core.vectors.store import VectorStore

_KEYWORD_LOCK = threading.Lock()
OPS = ("eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "contains", "not_contains")


@dataclass(frozen=True)
class FrameVectors:
    """An index's vectors as unit-length float32 rows aligned with a frame (154 MiB per 100,000 384-d
    vectors). They rank a constrained query's admitted set exactly, in numpy, where an id- or
    metadata-restricted Chroma query takes tens of milliseconds, and they score the winners with the
    similarity Chroma would report, so a search whose frame also holds the documents' text and metadata
    never calls Chroma at all (a `get` of 50 winners costs 10-20 ms over HTTP).

    `present` marks the rows whose vector is here, so a search ranks over the part of a corpus that is
    embedded while the rest is still being written or read. One object per state, swapped whole: a
    search that took it keeps a consistent view while a newer one is published. Rows not present may be
    filled in the shared matrix meanwhile; no reader looks at them."""

    matrix: np.ndarray
    present: np.ndarray  # bool per frame row: the vector of that document (as the frame has it) is here
    count: int = 0  # the index's size when they were read
    revision: str = ""  # the index's revision (VectorStore.version) when they were read
    generation: str = ""  # the index's collection id: a new one drops them (dropped and made again)
    complete: bool = True  # False while a read is still adding pages

    @property
    def rows(self) -> int:
        return int(np.count_nonzero(self.present))

    @property
    def state(self) -> tuple[int, str, str]:
        return self.count, self.revision, self.generation


def read_vectors(
    store: VectorStore,
    index: str,
    ids: np.ndarray,
    count: int = 0,
    page: int = 5000,
    *,
    hashes: Sequence[Any] | None = None,
    prior: FrameVectors | None = None,
    publish: Callable[[FrameVectors], None] | None = None,
) -> FrameVectors | None:
    """The vectors of `index` for the frame rows `ids`, or None when the index holds none of them.

    Only the rows `prior` does not hold are asked for: a vector read for a document stays right for as
    long as the frame does (its documents are fixed, and a vector is a function of the text), so an index
    being built costs one read of each new vector, not a re-read of all of them after every batch. With
    `hashes` (the frame's content hash per row), a vector the index holds for another version of the
    document is left out: that document counts as not embedded until the index catches up. `publish` gets
    the vectors read so far after each page (a search can rank over them while the rest arrive).
    """
    present = prior.present.copy() if prior is not None else np.zeros(len(ids), dtype=bool)
    matrix = prior.matrix if prior is not None else None
    wanted = np.flatnonzero(~present)
    asked = {ids[r]: int(r) for r in wanted}
    field_name = "content_hash" if hashes is not None else None
    try:
        for found, emb, values in store.vector_pages(index, list(asked), batch=page, field_name=field_name):
            pairs = [(asked[i], j) for j, i in enumerate(found)]
            if hashes is not None:
                pairs = [(r, j) for r, j in pairs if values[j] == hashes[r]]
            if not pairs:
                continue
            if matrix is not None and matrix.shape[1] != emb.shape[1]:
                return read_vectors(store, index, ids, count, page, hashes=hashes, publish=publish)  # another space
            if matrix is None:
                matrix = np.zeros((len(ids), emb.shape[1]), dtype=np.float32)
            rows = [r for r, _ in pairs]
            matrix[rows] = unit_rows(emb[[j for _, j in pairs]])
            present[rows] = True
            if publish is not None:
                publish(FrameVectors(matrix, present.copy(), count, complete=False))
    except IndexNotFound:
        return None
    return None if matrix is None else FrameVectors(matrix, present, count)


@dataclass
class FacetFrame:
    ids: np.ndarray  # document ids in the index ("worker-17"), object array
    entity_ids: np.ndarray  # object array
    codes: dict[str, np.ndarray]  # category field -> int32 code per entity (-1 = null)
    categories: dict[str, dict[str, int]]  # category field -> value -> code
    lists: dict[str, dict[str, np.ndarray]]  # list field -> value -> bool per entity
    numbers: dict[str, np.ndarray]  # number field -> float64 per entity (nan = null)
    vocab: Vocabulary
    version: str  # the source object the frame was built from
    texts: list[str] | None = None  # the documents' text, until the keyword index is built from it
    documents: pa.Table | None = None  # per row: text and the index's metadata, to serve hits from memory
    dense: FrameVectors | None = None  # the index's vectors, when in memory and current (see FrameCache)
    instant: FrameVectors | None = None  # the instant tier's index's vectors, until the full model's are all here
    keyword: KeywordIndex | None = None
    keyword_in_background: bool = False  # a large frame's keyword index is built off the search path
    _position: dict[str, int] | None = None
    _hashes: list[Any] | None = None

    def content_hashes(self) -> list[Any] | None:
        """Each row's content hash (what the index stores with its vector), when the frame keeps documents."""
        if self._hashes is None and self.documents is not None and "content_hash" in self.documents.column_names:
            self._hashes = self.documents.column("content_hash").to_pylist()
        return self._hashes

    def position(self, entity_id: str) -> int | None:
        """The row of an entity, or None."""
        if self._position is None:
            self._position = {e: i for i, e in enumerate(self.entity_ids)}
        return self._position.get(entity_id)

    def keywords(self) -> KeywordIndex:
        """The BM25 index over the documents (built on first use, then the texts are let go; a caller
        arriving while another thread builds it waits for that build)."""
        if self.keyword is None:
            with _KEYWORD_LOCK:
                if self.keyword is None:
                    self.keyword = KeywordIndex(self.texts or [])
                    self.texts = None
        return self.keyword

    def keywords_for_fusion(self) -> KeywordIndex | None:
        """The index a hybrid search fuses with its dense ranking: a small frame's is built on first use;
        a large one's (FrameCache builds it in the background: 29 s at 500,000 documents) is None until
        ready, and the search goes on without keyword fusion rather than wait."""
        if self.keyword is not None or not self.keyword_in_background:
            return self.keywords()
        return None

    @property
    def size(self) -> int:
        return len(self.ids)

    @classmethod
    def from_table(cls, table: pa.Table, facets: Sequence[Facet], vocab: Vocabulary, version: str) -> FacetFrame:
        codes: dict[str, np.ndarray] = {}
        categories: dict[str, dict[str, int]] = {}
        lists: dict[str, dict[str, np.ndarray]] = {}
        numbers: dict[str, np.ndarray] = {}
        n = table.num_rows
        for f in facets:
            column = table.column(f.field)
            if f.kind == "number":
                numbers[f.field] = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
                numbers[f.field] = np.where(pc.is_null(column).to_numpy(zero_copy_only=False), np.nan, numbers[f.field])
            elif f.kind == "category":
                encoded = pc.dictionary_encode(pc.cast(column, pa.string())).combine_chunks()
                dictionary = encoded.dictionary.to_pylist()
                codes[f.field] = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)
                categories[f.field] = {v: i for i, v in enumerate(dictionary)}
            else:
                split = pc.split_pattern(pc.fill_null(pc.cast(column, pa.string()), ""), f.separator)
                flat = pc.utf8_trim_whitespace(pc.list_flatten(split))
                parents = pc.list_parent_indices(split).to_numpy(zero_copy_only=False)
                encoded = pc.dictionary_encode(flat).combine_chunks()
                values = encoded.dictionary.to_pylist()
                idx = encoded.indices.to_numpy(zero_copy_only=False)
                per_value: dict[str, np.ndarray] = {}
                for code, value in enumerate(values):
                    if not value:
                        continue
                    mask = np.zeros(n, dtype=bool)
                    mask[parents[idx == code]] = True
                    per_value[value] = mask
                lists[f.field] = per_value
        return cls(
            ids=np.asarray(table.column("id").to_pylist(), dtype=object),
            entity_ids=np.asarray(table.column("entity_id").to_pylist(), dtype=object),
            codes=codes,
            categories=categories,
            lists=lists,
            numbers=numbers,
            vocab=vocab,
            version=version,
        )

    # -- constraints ----------------------------------------------------------------------------------

    def _category(self, c: Constraint) -> np.ndarray:
        codes, known = self.codes[c.field], self.categories[c.field]
        values = c.value if c.op in ("in", "nin") else [c.value]
        wanted = [known[str(v)] for v in values if str(v) in known]
        if len(wanted) == 1:
            hit = codes == wanted[0]
        else:
            hit = np.isin(codes, wanted) if wanted else np.zeros(len(codes), dtype=bool)
        return ~hit & (codes >= 0) if c.op in ("ne", "nin") else hit

    def _list(self, c: Constraint) -> np.ndarray:
        per_value = self.lists[c.field]
        if c.op in ("contains", "eq"):
            return per_value.get(str(c.value), np.zeros(self.size, dtype=bool)).copy()
        if c.op in ("not_contains", "ne"):
            return ~per_value.get(str(c.value), np.zeros(self.size, dtype=bool))
        if c.op in ("in", "nin"):
            any_of = np.zeros(self.size, dtype=bool)
            for v in c.value:
                any_of |= per_value.get(str(v), np.zeros(self.size, dtype=bool))
            return ~any_of if c.op == "nin" else any_of
        raise ConstraintError(f"{c.field} is a list: use contains, not_contains, in or nin, not {c.op}")

    def _number(self, c: Constraint) -> np.ndarray:
        x = self.numbers[c.field]
        if c.op in ("in", "nin"):
            hit = np.isin(x, [float(v) for v in c.value])
            return ~hit & ~np.isnan(x) if c.op == "nin" else hit
        v = float(c.value)
        with np.errstate(invalid="ignore"):
            return {
                "eq": x == v, "ne": (x != v) & ~np.isnan(x), "gt": x > v, "gte": x >= v, "lt": x < v, "lte": x <= v,
            }[c.op]  # fmt: skip

    def satisfies(self, c: Constraint) -> np.ndarray:
        """Which entities meet one constraint (a boolean per entity)."""
        facet = self.vocab.facet(c.field)
        if facet is None:
            raise ConstraintError(f"unknown field {c.field!r}; fields: {', '.join(f.field for f in self.vocab.facets)}")
        if c.op not in OPS:
            raise ConstraintError(f"unknown operator {c.op!r}; use one of {', '.join(OPS)}")
        if facet.kind == "number":
            if c.op in ("contains", "not_contains"):
                raise ConstraintError(f"{c.field} is a number: contains does not apply")
            return self._number(c)
        if facet.kind == "list":
            return self._list(c)
        if c.op in ("gt", "gte", "lt", "lte", "contains", "not_contains"):
            raise ConstraintError(f"{c.field} is a category: use eq, ne, in or nin, not {c.op}")
        return self._category(c)

    def mask(self, constraints: Sequence[Constraint]) -> np.ndarray:
        """Entities meeting every constraint."""
        out = np.ones(self.size, dtype=bool)
        for c in constraints:
            out &= self.satisfies(c)
        return out


def build_frame(
    conn: Any,
    documents_sql: str,
    facet_sql: str,
    facets: Sequence[Facet],
    version: str,
    metadata: Sequence[str] | None = None,
) -> FacetFrame:
    """The frame of a corpus: its documents (id, entity_id, text) joined to the facet columns by entity_id.

    `conn` has the source dataset mounted; the vocabulary is learned from the facet columns. With the
    corpus's index `metadata` columns, the frame also keeps each document's text and index metadata (the
    values its index stores, computed by the same SQL), so searches can serve hits without reading them
    back from the index.
    """
    keep = index_metadata_columns(metadata) if metadata is not None else []
    conn.execute(f"CREATE OR REPLACE TEMP VIEW __facets AS {facet_sql}")
    try:
        vocab = learn_vocabulary(conn, "__facets", facets)
        extra = [f'd."{c}" AS "__doc_{c}"' for c in keep if c != "entity_id"]
        columns = ", ".join(["d.id", "d.entity_id", "d.text", *extra, *('f."' + f.field + '"' for f in facets)])
        data = conn.sql(
            f"SELECT {columns} FROM ({documents_sql}) d JOIN __facets f ON d.entity_id = f.entity_id ORDER BY d.id"
        ).to_arrow_table()
    finally:
        conn.execute("DROP VIEW IF EXISTS __facets")
    frame = FacetFrame.from_table(data, facets, vocab, version)
    frame.texts = data.column("text").to_pylist()
    if metadata is not None:
        stored = [data.column("entity_id" if c == "entity_id" else f"__doc_{c}") for c in keep]
        frame.documents = one_chunk(pa.table([data.column("text"), *stored], names=["text", *keep]))
    return frame
