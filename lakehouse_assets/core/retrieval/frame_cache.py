"""One facet frame per corpus, kept current: rebuilt when the corpus's source dataset gets a new version, its
vectors following each of the corpus's vector indexes (the full model's, and the instant tier's) as they are
written, in the background, so a search never waits for a load and always says how much it could rank.
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

from lakehouse_assets.core.lake.handle import Lake
from lakehouse_assets.core.retrieval.facet_frame import FacetFrame, FrameVectors, build_frame, read_vectors
from lakehouse_assets.core.vectors.store import VectorStore
from lakehouse_assets.core.vectors.types import IndexVersion

log = logging.getLogger(__name__)

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
    lake: Lake,
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
            lake.catalog.refresh(max_age=refresh_seconds)
            for tier in tiers:
                states[(corpus, tier)] = index_version(tier_index(spec.index, tier))
        manifest = lake.catalog.find(spec.source)
        if manifest is None:
            return None

        def build() -> FacetFrame:
            conn = duckdb.connect()
            try:
                lake.mount(conn, spec.source, manifest.data_files)
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
