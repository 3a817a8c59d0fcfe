"""A corpus's facet columns in memory, so constraints are evaluated exactly and in a millisecond.

Built by the corpus's `facet_sql` over its source dataset (the roster itself, so constraints are checked
against the latest structured data, not a copy in the vector index). Categories are stored as integer
codes, list fields as one boolean column per value, numbers as float arrays: a constraint is a numpy
comparison over all entities, and their conjunction is the admitted set with its exact size, which is
what decides how the vector search is run (see core/retrieval/search.py).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse_assets.core.lake.arrow_types import one_chunk
from lakehouse_assets.core.retrieval.keyword import KeywordIndex
from lakehouse_assets.core.retrieval.query_parse import Constraint
from lakehouse_assets.core.retrieval.vocabulary import Facet, Vocabulary, learn_vocabulary
from lakehouse_assets.core.vectors.embedder import unit_rows
from lakehouse_assets.core.vectors.indexing import index_metadata_columns
from lakehouse_assets.core.vectors.store import IndexNotFound, IndexVersion, VectorStore

log = logging.getLogger(__name__)
_KEYWORD_LOCK = threading.Lock()
OPS = ("eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "contains", "not_contains")


class ConstraintError(ValueError):
    """A constraint that cannot apply: an unknown field, or an operator the field's kind does not take."""


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


TIERS = ("full", "instant")  # the full model's index, and the instant tier's (a static model, indexed first)
_ATTRIBUTE = {"full": "dense", "instant": "instant"}


@dataclass(frozen=True)
class IndexSource:
    """One vector index of a corpus as last seen: its state and how to read its vectors for a frame."""

    count: int = 0  # the index's size (0: no index, or an empty one)
    # read(frame, prior, publish): the frame's vectors, adding to `prior` (see read_vectors)
    read: Callable[..., FrameVectors | None] | None = None
    revision: str = ""  # the index's revision: a new one after any write, even in place
    generation: str = ""  # the index's collection id
    model: str = ""  # the model of the index's vectors

    @property
    def state(self) -> tuple[int, str, str]:
        return self.count, self.revision, self.generation


@dataclass(frozen=True)
class FrameSource:
    """What a corpus's frame is built from now: its source dataset's version and, per tier of vector index
    the corpus has ("full", and "instant" when configured), that index's state."""

    version: str  # the source object: a new one rebuilds the frame
    build: Callable[[], FacetFrame]
    tiers: Mapping[str, IndexSource] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class IndexState:
    """How much of a corpus a search can rank by meaning right now, as a response reports it."""

    state: str  # "empty" (no vectors yet) | "building" (the index lacks documents) | "loading" | "ready"
    embedded: int  # documents whose current vector the search holds
    documents: int  # documents in the corpus
    indexed: int  # vectors in the index
    model: str

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def vectors_of(frame: FacetFrame, tier: str) -> FrameVectors | None:
    return getattr(frame, _ATTRIBUTE[tier])


class FrameCache:
    """One frame per corpus, rebuilt when its source dataset gets a new version. Thread-safe.

    A frame's vectors follow each of the corpus's indexes (tiers): their size, revision and generation
    (any write through VectorStore gives a new state). On a new state only the rows the frame does not
    hold yet are read (read_vectors): in the search's own thread for an index of up to `sync_vectors`
    documents, else by a background thread that publishes each page as it arrives and looks again at most
    every `follow_seconds` while the index keeps changing (a 100,000-document index being built is
    followed within seconds; no search waits for a read). A new generation (the index dropped and made
    again) drops the vectors at once. While the instant tier's vectors cover every document, the full
    model's index is read once it holds every document, not followed while it is built. Once the full
    model's vectors are all in memory, the instant tier's are let go: searches no longer need them.
    Likewise a frame of more than `sync_keywords` documents gets its BM25 index from a background thread
    started when it is built.
    """

    def __init__(
        self,
        loader: Callable[[str], FrameSource | None],
        *,
        sync_vectors: int = 20_000,
        follow_seconds: float = 2.0,
        sync_keywords: int = 20_000,
    ) -> None:
        """`loader(corpus)` -> the corpus's current FrameSource, or None when there is no source."""
        self._loader = loader
        self._frames: dict[str, FacetFrame] = {}
        self._sources: dict[str, FrameSource] = {}
        self._lock = threading.Lock()
        self._vector_lock = threading.Lock()
        self._loading: set[tuple[str, str]] = set()  # (corpus, tier) read by a background thread now
        self._last_read: dict[tuple[str, str], float] = {}  # when the background reader last began a read
        self.sync_vectors = sync_vectors
        self.follow_seconds = follow_seconds
        self.sync_keywords = sync_keywords

    def get(self, corpus: str) -> FacetFrame | None:
        source = self._loader(corpus)
        if source is None:
            return None
        frame = self._frames.get(corpus)
        if frame is None or frame.version != source.version:
            with self._lock:
                frame = self._frames.get(corpus)
                if frame is None or frame.version != source.version:
                    frame = source.build()
                    if frame.size > self.sync_keywords:
                        frame.keyword_in_background = True
                        builder = threading.Thread(target=self._build_keywords, args=(corpus, frame), daemon=True)
                        builder.name = f"keywords-{corpus}"
                        builder.start()
                    self._frames[corpus] = frame
        self._sources[corpus] = source
        for tier in TIERS:
            self._follow_index(corpus, tier, frame, source.tiers.get(tier))
        return frame

    def index_state(self, corpus: str, frame: FacetFrame, tier: str = "full") -> IndexState:
        """What `frame`'s search can rank by meaning with `tier`'s vectors (as of the index state last seen)."""
        source = self._sources.get(corpus)
        index = source.tiers.get(tier) if source is not None else None
        indexed = index.count if index is not None else 0
        dense = vectors_of(frame, tier)
        embedded = dense.rows if dense is not None else 0
        if embedded >= frame.size:
            state = "ready"
        elif embedded == 0 and indexed == 0:
            state = "empty"
        elif (corpus, tier) in self._loading or (dense is not None and not dense.complete):
            state = "loading" if indexed >= frame.size else "building"
        else:
            state = "building"
        return IndexState(state, embedded, frame.size, indexed, index.model if index is not None else "")

    def answering(self, corpus: str, frame: FacetFrame) -> str:
        """The tier a search of `frame` ranks with: the full model's once all its vectors are here, the
        instant tier's while it covers more of the corpus, else the full model's (partial)."""
        full, instant = frame.dense, frame.instant
        if instant is None or (full is not None and full.rows >= frame.size):
            return "full"
        return "instant" if instant.rows > (full.rows if full is not None else 0) else "full"

    @staticmethod
    def _build_keywords(corpus: str, frame: FacetFrame) -> None:
        try:
            frame.keywords()
        except Exception:
            log.exception("building the keyword index of %s failed; the next hybrid search builds it", corpus)
            frame.keyword_in_background = False

    def status(self) -> dict[str, dict[str, Any]]:
        """Per built frame: its entities, the vectors in memory, and whether a read is under way."""
        out: dict[str, dict[str, Any]] = {}
        for corpus, frame in list(self._frames.items()):
            out[corpus] = {
                "entities": frame.size,
                "vectors_in_memory": frame.dense.rows if frame.dense is not None else 0,
                "vectors_loading": (corpus, "full") in self._loading,
                "keyword_index": _keyword_state(frame),
            }
            source = self._sources.get(corpus)
            if source is not None and "instant" in source.tiers:
                out[corpus]["instant_vectors_in_memory"] = frame.instant.rows if frame.instant is not None else 0
                out[corpus]["answering"] = self.answering(corpus, frame)
        return out

    def _follow_index(self, corpus: str, tier: str, frame: FacetFrame, index: IndexSource | None) -> None:
        attribute = _ATTRIBUTE[tier]
        held = getattr(frame, attribute)
        if tier == "instant" and frame.dense is not None and frame.dense.rows >= frame.size:
            setattr(frame, attribute, None)  # the full model answers every document now
            return
        if index is None or index.read is None or index.count == 0:
            setattr(frame, attribute, None)
            return
        if _holds(held, index.state) or _not_needed_yet(frame, tier, index):
            return
        if held is not None and held.generation != index.generation:
            setattr(frame, attribute, None)  # another collection: its vectors may be another model's
        if index.count > self.sync_vectors:
            with self._vector_lock:
                if (corpus, tier) in self._loading:
                    return
                self._loading.add((corpus, tier))
            reader = threading.Thread(target=self._follow_in_background, args=(corpus, tier), daemon=True)
            reader.name = f"vectors-{corpus}-{tier}"
            reader.start()
            return
        with self._vector_lock:
            held = getattr(frame, attribute)
            if not _holds(held, index.state):
                setattr(frame, attribute, _stamped(index.read(frame, held, None), index.state))

    def _follow_in_background(self, corpus: str, tier: str) -> None:
        """Read what the frame lacks, publishing each page; look again (at most every `follow_seconds`)
        while the index keeps changing; stop when the frame holds the index's state or is replaced."""
        attribute, key = _ATTRIBUTE[tier], (corpus, tier)
        try:
            while True:
                source = self._loader(corpus)
                frame = self._frames.get(corpus)
                if source is None or frame is None or frame.version != source.version:
                    return  # the next search builds the new frame and follows its index
                index = source.tiers.get(tier)
                if index is None or index.read is None or index.count == 0:
                    return
                state = index.state
                held = getattr(frame, attribute)
                if _holds(held, state) or _not_needed_yet(frame, tier, index):
                    return
                wait = self._last_read.get(key, -math.inf) + self.follow_seconds - time.monotonic()
                if wait > 0:
                    time.sleep(min(wait, 1.0))
                    continue
                self._last_read[key] = time.monotonic()
                prior = held if held is not None and held.generation == state[2] else None

                def publish(partial: FrameVectors, frame: FacetFrame = frame, state: tuple = state) -> None:
                    with self._vector_lock:
                        if self._frames.get(corpus) is frame:
                            setattr(frame, attribute, _stamped(partial, state, complete=False))

                dense = index.read(frame, prior, publish)
                with self._vector_lock:
                    if self._frames.get(corpus) is frame:
                        setattr(frame, attribute, _stamped(dense, state))
        except Exception:
            log.exception("reading the vectors of %s failed (%s tier); the next search tries again", corpus, tier)
        finally:
            with self._vector_lock:
                self._loading.discard(key)


def _not_needed_yet(frame: FacetFrame, tier: str, index: IndexSource) -> bool:
    """Whether reading the full model's index can wait: while the instant tier's vectors cover every
    document, searches rank with them until the full index holds every document too. Following a
    100,000-document build page by page costs the vector store a lookup of every missing id per look
    (and every API worker looks), CPU the build itself needs; one read once it is complete does not."""
    instant = frame.instant
    return tier == "full" and index.count < frame.size and instant is not None and instant.rows >= frame.size


def _holds(dense: FrameVectors | None, state: tuple[int, str, str]) -> bool:
    """Whether vectors in memory were read, whole, from the index in `state` (size, revision, generation)."""
    return dense is not None and dense.complete and dense.state == state


def _stamped(dense: FrameVectors | None, state: tuple[int, str, str], *, complete: bool = True) -> FrameVectors | None:
    """`dense` marked with the state the index was in just before it was read (a write during the read
    moves the index on, and the next look reads again: never current vectors marked stale the other way)."""
    if dense is None:
        return None
    return dataclasses.replace(dense, count=state[0], revision=state[1], generation=state[2], complete=complete)


def _keyword_state(frame: FacetFrame) -> str:
    if frame.keyword is not None:
        return "ready"
    return "building" if frame.keyword_in_background else "on first use"


def tier_index(index: str, tier: str) -> str:
    """The name of a corpus's index for one tier: the full model's is the corpus's own index name."""
    return index if tier == "full" else f"{index}-{tier}"


def catalog_frames(
    catalog: Any,
    lake: Any,
    corpora: Mapping[str, Any],
    refresh_seconds: float = 1.0,
    store: VectorStore | None = None,
    *,
    tiers: Sequence[str] = ("full",),
    **cache: Any,
) -> FrameCache:
    """Frames for the corpora that declare facets, from their source datasets in the catalog (and, with
    `store`, the vectors of the corpus's index for each of `tiers`; `cache` goes to FrameCache).

    The catalog (and the indexes' states) are re-read at most every `refresh_seconds`; a new version of the
    source rebuilds the frame on the next search (the old one keeps answering until then).
    """
    import duckdb

    from lakehouse_assets.core.lake.duck import mount, parquet_source

    checked: dict[str, float] = {}  # corpus -> when the catalog and its indexes were last read for it
    states: dict[tuple[str, str], IndexVersion] = {}
    lock = threading.Lock()
    none = IndexVersion(0, "", "", "")

    def index_version(index: str) -> IndexVersion:
        try:
            return store.version(index) if store is not None else none
        except Exception:  # no index yet (or not readable this moment)
            return none

    def loader(corpus: str) -> FrameSource | None:
        spec = corpora.get(corpus)
        if spec is None or not spec.facets:
            return None
        now = time.monotonic()
        with lock:
            stale = now - checked.get(corpus, -math.inf) >= refresh_seconds
            if stale:
                checked[corpus] = now
        if stale:
            catalog.refresh(max_age=refresh_seconds)
            for tier in tiers:
                states[(corpus, tier)] = index_version(tier_index(spec.index, tier))
        manifest = catalog.find(spec.source)
        if manifest is None:
            return None

        def build() -> FacetFrame:
            conn = duckdb.connect()
            try:
                mount(conn, spec.source, parquet_source(lake, manifest.object_key))
                metadata = spec.metadata if store is not None else None
                return build_frame(conn, spec.sql, spec.facet_sql, spec.facets, manifest.object_key, metadata)
            finally:
                conn.close()

        def reader(index: str) -> Callable[..., FrameVectors | None]:
            def read(frame: FacetFrame, prior: FrameVectors | None, publish: Any = None) -> FrameVectors | None:
                assert store is not None
                return read_vectors(
                    store, index, frame.ids, hashes=frame.content_hashes(), prior=prior, publish=publish
                )

            return read

        sources = {}
        if store is not None:
            for tier in tiers:
                version = states.get((corpus, tier), none)
                index = tier_index(spec.index, tier)
                sources[tier] = IndexSource(
                    version.count, reader(index), version.revision, version.generation, version.model
                )
        return FrameSource(manifest.object_key, build, sources)

    return FrameCache(loader, **cache)
