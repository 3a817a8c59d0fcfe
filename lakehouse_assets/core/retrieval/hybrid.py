"""Hybrid search over one corpus with a facet frame: exact constraints, dense ranking, keyword fusion.

The constraints (parsed from the query, or given as filters) are evaluated on the frame first, which
gives the admitted set and its exact size. How the vector index is asked then depends on that size,
because a metadata-filtered HNSW query is slow in Chroma (tens of milliseconds at 100,000 vectors,
whatever the filter) while an id-restricted or unfiltered one is fast:

- up to EXACT_MAX admitted (constrained or not): exact cosine over their vectors, which the frame holds in
  memory (an id-restricted Chroma query costs ~60 ms at 100,000 vectors even for ten ids; exact cosine over
  all 100,000 about 6 ms). Exact matters beyond speed: a roster's documents are near-duplicates by the
  thousand (one template per role), which strands HNSW's greedy walk in the wrong cluster; at 100,000
  workers the index's top 10 for "drives big rigs cross country" were all forklift operators while the 3,506
  truck drivers were the exact nearest;
- nothing constrained over a larger roster: an unfiltered HNSW query for the top `fetch`;
- more admitted (a broad constraint): an unfiltered query over-fetching by the inverse of their share,
  kept if admitted; when that leaves too few, the exact ranking over all of them.
Without vectors in memory (a large index still being read) an id-restricted query stands in for the exact
one. Hits found in memory are served from memory too (the frame holds each document's text and index
metadata): reading 50 winners back from a Chroma server would cost more than the whole ranking.

An index that is empty, partial, being written or unreadable for a moment never makes a search fail or
come back emptier than what is certain: the constraints are exact over every document, BM25 ranks every
document, and the dense ranking covers the part that is embedded. Admitted documents with no vector yet
are served from the frame with no similarity (`distance` None), after the ranked ones.

BM25 over the admitted documents gives a second ranking (matrix search fuses it with the final dense
order by reciprocal rank; keyword finds the dense ranking missed are fetched and scored; while a large
roster's keyword index is still being built, the search goes on without it and says so), each hit
says which constraints it meets, and when fewer than k are admitted the result says so instead of
padding with violators (unless the caller asks, and then each padded hit names what it breaks).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from lakehouse_assets.core.retrieval.facet_frame import FacetFrame, FrameVectors
from lakehouse_assets.core.retrieval.keyword import KeywordIndex, rrf
from lakehouse_assets.core.retrieval.query_parse import Constraint
from lakehouse_assets.core.vectors.embedder import unit_rows
from lakehouse_assets.core.vectors.exceptions import IndexNotFound, IndexUnavailable
from lakehouse_assets.core.vectors.indexing import metadata_rows
from lakehouse_assets.core.vectors.store import VectorStore
from lakehouse_assets.core.vectors.types import VectorHit

EXACT_MAX = 200_000  # admitted entities ranked exactly over the frame's vectors (about 12 ms at this size)
EXACT_CHUNK = 20_000
PREFILTER_MAX = 4000  # without vectors in memory: admitted entities ranked through an id-restricted query
OVERFETCH_MAX = 2000  # most neighbours fetched unfiltered to post-filter
OVERFETCH_SLACK = 1.5
KEYWORD_DEPTH = 50  # keyword ranks fused with the dense ones

_SYMBOLS = {"eq": "=", "ne": "≠", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤", "in": "in", "nin": "not in"}


def describe(c: Constraint, frame: FacetFrame | None = None) -> str:
    """A constraint as a person reads it: "state = IL", "certification: OSHA 10", "shift ≠ night"."""
    facet = frame.vocab.facet(c.field) if frame else None
    name = facet.name if facet else c.field.replace("_", " ")
    value = ", ".join(map(str, c.value)) if isinstance(c.value, list) else str(c.value)
    if c.op == "contains":
        return f"{name}: {value}"
    if c.op == "not_contains":
        return f"no {name} {value}"
    return f"{name} {_SYMBOLS.get(c.op, c.op)} {value}"


@dataclass
class Ranked:
    hit: VectorHit
    meets: list[str]
    violates: list[str]


@dataclass
class FrameResult:
    ranked: list[Ranked]  # dense finds (best first), then keyword-only finds
    admitted: int
    strategy: str
    keyword: dict[str, float]  # the keyword ranking (id -> BM25 score, best first), fused with the dense order
    keyword_skipped: bool = False  # hybrid, but the keyword index is still being built
    # The admitted documents of some entities, scored against the query like any hit (the playbook boost's
    # endorsed workers the rankings did not reach): from memory when the frame holds them.
    admitted_hits: Callable[[Sequence[str]], list[Ranked]] = lambda entity_ids: []


def _position_mask(frame: FacetFrame, exclude: Sequence[str]) -> np.ndarray:
    keep = np.ones(frame.size, dtype=bool)
    for entity in exclude:
        pos = frame.position(entity)
        if pos is not None:
            keep[pos] = False
    return keep


QueryVector = np.ndarray | Callable[[], np.ndarray] | None


@dataclass
class _Probe:
    """What stays fixed while one query is ranked: the index, the frame over it (and the frame's vectors as
    they were when the query began, if in memory) and the query vector, encoded when first needed (None:
    the index holds nothing yet, so nothing is ranked by meaning and the query is not encoded at all; the
    first searches of a fresh demo answer by constraints and keywords while the encoder still loads)."""

    store: VectorStore
    index: str
    model: str
    frame: FacetFrame
    dense: FrameVectors | None
    query_vector: QueryVector
    where: Mapping[str, Any] | None

    @property
    def vector(self) -> np.ndarray:
        if callable(self.query_vector):
            self.query_vector = self.query_vector()
        assert self.query_vector is not None, "no query vector: nothing is ranked by meaning"
        return self.query_vector

    def query(self, k: int, ids: list[str] | None = None) -> list[VectorHit] | None:
        """The index's nearest `k` (among `ids`), or None when the index is not there or not readable now."""
        if self.query_vector is None:
            return None
        try:
            found = self.store.query(self.index, model=self.model, vector=self.vector, k=k, ids=ids, where=self.where)
        except (IndexNotFound, IndexUnavailable):
            return None
        return self._with_texts(found)

    def _fetch(self, ids: list[str]) -> list[VectorHit]:
        if self.query_vector is None:
            return []
        try:
            found = self.store.fetch(self.index, ids=ids, model=self.model, query=self.vector, where=self.where)
        except (IndexNotFound, IndexUnavailable):
            return []
        return self._with_texts(found)

    def _with_texts(self, hits: list[VectorHit]) -> list[VectorHit]:
        """Hits from an index that stores vectors only (the instant tier's) take their text from the frame."""
        documents = self.frame.documents
        if documents is None or all(h.document is not None for h in hits):
            return hits
        texts = documents.column("text")
        out = []
        for h in hits:
            row = None if h.document is not None else self.frame.position(str(h.metadata.get("entity_id", "")))
            out.append(h if row is None else replace(h, document=texts[row].as_py()))
        return out

    def hits(self, rows: Sequence[int]) -> list[VectorHit]:
        """The documents at frame `rows`, in that order, scored against the query vector: from memory when
        the frame holds their text and metadata (and no `where` is left for Chroma to check), a document
        whose vector is not in memory with no similarity (distance None); else those the index holds, read
        from it."""
        frame, dense = self.frame, self.dense
        if frame.documents is None or self.where:
            return self._fetch([str(frame.ids[r]) for r in rows])
        if not len(rows):
            return []
        rows = np.asarray(rows, dtype=np.int64)
        distance: list[float | None] = [None] * len(rows)
        if dense is not None:
            held = np.flatnonzero(dense.present[rows])
            if len(held):
                similarity = dense.matrix[rows[held]] @ _unit(self.vector)
                for j, s in zip(held, similarity, strict=True):
                    distance[j] = 1.0 - float(s)
        else:  # vectors not in memory yet (a large index being read): the index scores what it holds
            scored = {vh.id: vh.distance for vh in self._fetch([str(frame.ids[r]) for r in rows])}
            distance = [scored.get(str(frame.ids[r])) for r in rows]
        found = frame.documents.take(rows)
        texts = found.column("text").to_pylist()
        metadatas = metadata_rows(found, found.column_names[1:])
        return [
            VectorHit(str(frame.ids[r]), d, meta, text)
            for r, d, meta, text in zip(rows, distance, metadatas, texts, strict=True)
        ]


def _unit(vector: np.ndarray) -> np.ndarray:
    return unit_rows(np.reshape(vector, (1, -1)))[0]


def _exact(probe: _Probe, mask: np.ndarray, fetch: int) -> list[VectorHit]:
    """The best `fetch` admitted documents by cosine over the frame's vectors (unit rows)."""
    dense = probe.dense
    assert dense is not None
    ok = mask & dense.present
    rows = np.flatnonzero(ok)
    if not len(rows):
        return []
    q = _unit(probe.vector)
    best: list[tuple[float, int]] = []
    in_place = len(rows) * 2 > len(ok)
    # Most rows admitted: score slices of the matrix in place and drop the others after (gathering the admitted
    # rows copied the whole matrix, 154 MiB at 100,000 workers, on every search); few: gather just those.
    # Either way in chunks, so scratch memory is bounded whatever the admitted set.
    for start in range(0, len(ok) if in_place else len(rows), EXACT_CHUNK):
        if in_place:
            sims = dense.matrix[start : start + EXACT_CHUNK] @ q
            sims[~ok[start : start + EXACT_CHUNK]] = -np.inf
            at = np.arange(start, start + len(sims))
        else:
            at = rows[start : start + EXACT_CHUNK]
            sims = dense.matrix[at] @ q
        take = min(fetch, len(sims))
        top = np.argpartition(-sims, take - 1)[:take]
        best.extend((float(sims[t]), int(at[t])) for t in top if np.isfinite(sims[t]))
    best.sort(key=lambda x: (-x[0], x[1]))
    hits = probe.hits([r for _, r in best[:fetch]])
    return sorted((h for h in hits if h.distance is not None), key=lambda h: (h.distance, h.id))


def dense_admitted(
    probe: _Probe, mask: np.ndarray, admitted: int, fetch: int, constrained: bool
) -> tuple[list[VectorHit], str]:
    """The best `fetch` admitted documents by dense similarity, and the strategy that found them."""
    frame, dense = probe.frame, probe.dense
    if admitted == 0:
        return [], "none admitted"
    if dense is not None and dense.complete and admitted <= EXACT_MAX:
        return _exact(probe, mask, fetch), f"exact over {admitted}"
    if not constrained:
        hits = probe.query(fetch)
        if hits is not None:
            return hits, "unfiltered"
        if dense is None:
            return [], "no index to rank by meaning"
        return _exact(probe, mask, fetch), "exact over the embedded part (index not readable)"
    if dense is not None and (admitted <= EXACT_MAX or not dense.complete):
        return _exact(probe, mask, fetch), f"exact over {admitted}"
    if dense is None and admitted <= PREFILTER_MAX:
        return probe.query(min(fetch, admitted), ids=frame.ids[mask].tolist()) or [], "ids"
    share = admitted / max(frame.size, 1)
    n = min(OVERFETCH_MAX, max(fetch, math.ceil(fetch / share * OVERFETCH_SLACK)))
    kept = []
    for vh in probe.query(n) or []:
        pos = frame.position(str(vh.metadata.get("entity_id", "")))
        if pos is not None and mask[pos]:
            kept.append(vh)
    if len(kept) >= min(fetch, admitted) or n >= frame.size:
        return kept[:fetch], f"post-filter of {n}"
    if dense is not None:
        return _exact(probe, mask, fetch), f"exact over {admitted} (post-filter ran short)"
    return probe.query(fetch, ids=frame.ids[mask].tolist()) or [], "ids (post-filter ran short)"


def search_frame(
    store: VectorStore,
    index: str,
    model: str,
    frame: FacetFrame,
    constraints: Sequence[Constraint],
    vector: QueryVector,
    *,
    text: str,
    k: int,
    fetch: int,
    exclude: Sequence[str] = (),
    where: Mapping[str, Any] | None = None,
    keyword: bool = True,
    keyword_only: bool = False,
    pad: bool = False,
    dense: FrameVectors | str | None = "frame",
) -> FrameResult:
    """Rank the corpus for one query under `constraints` (see the module docstring). `dense`: the vectors in
    memory of `index` (default the frame's full-model ones; the instant tier's when that index answers).
    `vector`: the query's, or a function that encodes it when first needed, or None when the index is
    known to hold nothing yet."""
    masks = [frame.satisfies(c) for c in constraints]
    mask = _position_mask(frame, exclude)
    for m in masks:
        mask &= m
    admitted = int(np.count_nonzero(mask))
    labels = [describe(c, frame) for c in constraints]

    def explain(vh: VectorHit) -> tuple[list[str], list[str]]:
        pos = frame.position(str(vh.metadata.get("entity_id", "")))
        if pos is None:
            return [], labels[:]
        meets = [label for label, m in zip(labels, masks, strict=True) if m[pos]]
        return meets, [label for label, m in zip(labels, masks, strict=True) if not m[pos]]

    constrained = bool(constraints) or bool(exclude)
    held = (frame.dense if isinstance(dense, str) else dense) if vector is not None else None
    probe = _Probe(store, index, model, frame, held, vector, where)
    if keyword_only:
        top = frame.keywords().top(text, fetch, mask)
        ids = [str(frame.ids[i]) for i, _ in top]
        by_id = {vh.id: vh for vh in probe.hits([i for i, _ in top])}
        found: list[VectorHit] = [by_id[i] for i in ids if i in by_id]
        strategy = "keyword"
    else:
        found, strategy = dense_admitted(probe, mask, admitted, fetch, constrained)
    ranked = [Ranked(vh, *explain(vh)) for vh in found]
    words: dict[str, float] = {}
    fuse = keyword and not keyword_only and admitted > 0
    keywords = frame.keywords_for_fusion() if fuse else None
    if keyword_only:
        scores = {str(frame.ids[i]): round(s, 6) for i, s in top}
        words = {r.hit.id: scores[r.hit.id] for r in ranked}
    elif keywords is not None:
        words, extra = _keyword_candidates(probe, keywords, mask, text, ranked, fetch, explain)
        ranked.extend(extra)
    if constrained and not keyword_only and len(ranked) < min(fetch, admitted):
        ranked.extend(_certain(probe, mask, ranked, fetch, explain))
    if pad and admitted < k:
        have = {r.hit.id for r in ranked}
        for vh in probe.query(min(fetch + len(have), 200)) or []:
            if vh.id not in have and str(vh.metadata.get("entity_id", "")) not in exclude:
                ranked.append(Ranked(vh, *explain(vh)))

    def admitted_hits(entity_ids: Sequence[str]) -> list[Ranked]:
        rows = [p for e in entity_ids if (p := frame.position(str(e))) is not None and mask[p]]
        return [Ranked(vh, *explain(vh)) for vh in probe.hits(rows)]

    return FrameResult(
        ranked, admitted, strategy, words, keyword_skipped=fuse and keywords is None, admitted_hits=admitted_hits
    )


def _certain(
    probe: _Probe,
    mask: np.ndarray,
    ranked: list[Ranked],
    fetch: int,
    explain: Callable[[VectorHit], tuple[list[str], list[str]]],
) -> list[Ranked]:
    """Admitted documents the rankings did not reach because their vectors are not in the index (or not in
    memory) yet, in the frame's order: they meet every constraint, which is certain, so they are answered
    (with no similarity) rather than left out while an index is built."""
    have = {r.hit.id for r in ranked}
    rows: list[int] = []
    for r in np.flatnonzero(mask):
        if str(probe.frame.ids[r]) not in have:
            rows.append(int(r))
            if len(rows) + len(ranked) >= fetch:
                break
    return [Ranked(vh, *explain(vh)) for vh in probe.hits(rows)]


def _keyword_candidates(
    probe: _Probe,
    keywords: KeywordIndex,
    mask: np.ndarray,
    text: str,
    ranked: list[Ranked],
    fetch: int,
    explain: Callable[[VectorHit], tuple[list[str], list[str]]],
) -> tuple[dict[str, float], list[Ranked]]:
    """The BM25 ranking over the admitted set (id -> score, best first), and the keyword finds the dense
    ranking missed (fetched and scored against the query vector, so they carry a similarity like any hit)."""
    top = keywords.top(text, max(KEYWORD_DEPTH, fetch), mask)
    row_of = {str(probe.frame.ids[i]): i for i, _ in top}
    words = {str(probe.frame.ids[i]): round(s, 6) for i, s in top}
    keyword_ids = list(row_of)
    have = {r.hit.id for r in ranked}
    # Only keyword finds that fusion could lift into the first `fetch` are worth fetching.
    fused = rrf([r.hit.id for r in ranked], keyword_ids)
    leaders = sorted(fused, key=lambda i: (-fused[i], i))[:fetch]
    missing = [row_of[i] for i in leaders if i not in have]
    return words, [Ranked(vh, *explain(vh)) for vh in probe.hits(missing)]
