"""Playbook memory in ranking: past playbooks whose query is like this one move the workers they named.

Past playbooks whose query clears this query's relevance floor (the roster's calibrated floor; without a
roster frame, PLAYBOOK_MIN_SIMILARITY) adjust the workers they endorsed or rejected:

    boost(w) = MAX_BOOST * (tanh(E_w) - tanh(R_w))
    E_w = sum over matching playbooks endorsing w of  clear(playbook) * weight(outcome)
    R_w = sum over matching playbooks rejecting w of  clear(playbook)
    clear(p) = min(1, (similarity(query, p) - floor) / PLAYBOOK_CLEAR)

with weight(success) = 1, weight(partial) = 0.5, weight(failure) = 0: an exact repeat or a paraphrase of
the request counts fully, a query just over the floor hardly at all. The boost is bounded by +-MAX_BOOST
however many playbooks agree, so memory nudges ranking but never swamps relevance. Endorsed workers the
search did not return are fetched and scored too.

The playbooks are asked in two places: the `playbooks` index, and the journal's records it does not hold
yet (core/memory/playbook_recent.py), so a record is matched the moment it is acknowledged.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from lakehouse_assets.core.memory.playbook_recent import RecentPlaybooks
from lakehouse_assets.core.memory.playbooks import split_ids
from lakehouse_assets.core.retrieval.corpora import PLAYBOOKS, WORKERS
from lakehouse_assets.core.retrieval.filters import chroma_where, translate_filter
from lakehouse_assets.core.retrieval.ranking import MAX_BOOST
from lakehouse_assets.core.retrieval.results import Boost, Hit, hit_from
from lakehouse_assets.core.vectors.exceptions import IndexNotFound, IndexUnavailable
from lakehouse_assets.core.vectors.mirror import Mirrors
from lakehouse_assets.core.vectors.types import VectorHit

PLAYBOOK_MIN_SIMILARITY = 0.6  # the floor for matching playbooks when the roster has no calibration (no frame)
PLAYBOOK_CLEAR = 0.15  # how far above the floor a playbook's query must be to count fully
PLAYBOOK_NEIGHBOURS = 20
OUTCOME_WEIGHT = {"success": 1.0, "partial": 0.5, "failure": 0.0}

Hits = dict[tuple[str, str], Hit]  # (entity, entity id) -> the best hit on it so far
Admitted = Callable[[Sequence[str]], Iterable[Any]]  # the roster frame's constraint-meeting hits among ids


class PlaybookBoost:
    """Boosts from the playbooks index and the journal's records it does not hold yet."""

    def __init__(self, mirrors: Mirrors, model: str, recent: RecentPlaybooks | None = None) -> None:
        self.mirrors, self.store, self.model, self.recent = mirrors, mirrors.store, model, recent

    def apply(
        self,
        vector: np.ndarray,
        best: Hits,
        *,
        asked: np.ndarray,
        floor: float,
        exclude: Collection[str],
        flt: Mapping[str, Any] | None,
        admitted_hits: Admitted | None,
        workers: bool = True,
    ) -> int:
        """Boost or demote the workers in `best` named by playbooks near `asked` (the query as written);
        `vector` scores endorsed workers the search did not return. Returns how many playbooks matched.

        Those missing workers are scored too: with the roster's frame, the ones that meet the query's
        constraints (`admitted_hits`, from memory); without it, by the filter in Chroma. Without `workers`
        (the roster is not searched) the playbooks are only counted."""
        neighbours = self.neighbours(asked)
        # A playbook counts by how far its query clears this query's relevance floor: fully from PLAYBOOK_CLEAR
        # above it (an exact repeat, a paraphrase of the request), hardly at all just over it.
        matches = [n for n in neighbours if n.similarity > floor]
        endorse: dict[str, float] = defaultdict(float)
        reject: dict[str, float] = defaultdict(float)
        why: dict[str, list[Boost]] = defaultdict(list)
        for m in matches:
            meta = m.metadata
            outcome = str(meta.get("outcome", "success"))
            pid, query = str(meta.get("playbook_id", m.id)), m.document or ""
            weight = min(1.0, (m.similarity - floor) / PLAYBOOK_CLEAR)
            for wid in split_ids(meta.get("endorsed_ids")):
                endorse[wid] += weight * OUTCOME_WEIGHT.get(outcome, 0.0)
                why[wid].append(Boost(pid, query, round(m.similarity, 6), "endorsed", outcome))
            for wid in split_ids(meta.get("rejected_ids")):
                reject[wid] += weight
                why[wid].append(Boost(pid, query, round(m.similarity, 6), "rejected", outcome))
        named = set(endorse) | set(reject) if workers else set()
        missing = [w for w in named if (WORKERS.entity, w) not in best and w not in exclude]
        if missing and admitted_hits is not None:
            for r in admitted_hits(missing):
                hit = hit_from(WORKERS, r.hit, meets=r.meets, violates=r.violates)
                best[(WORKERS.entity, hit.entity_id)] = hit
        elif missing:
            self._fetch_workers(vector, missing, flt, best)
        for wid in named:
            key = (WORKERS.entity, wid)
            hit = best.get(key)
            if hit is None or hit.similarity is None:
                continue  # no vector yet: nothing to boost
            delta = MAX_BOOST * (math.tanh(endorse.get(wid, 0.0)) - math.tanh(reject.get(wid, 0.0)))
            best[key] = replace(hit, score=round(hit.similarity + delta, 6), boost=round(delta, 6), why=why[wid])
        return len(matches)

    def neighbours(self, vector: np.ndarray) -> list[VectorHit]:
        """The past playbooks nearest `vector`: from the index, and from the journal's records it does not
        hold yet (acknowledged records are searchable before their vectors reach Chroma)."""
        try:
            indexed = self.mirrors.query(PLAYBOOKS.index, model=self.model, vector=vector, k=PLAYBOOK_NEIGHBOURS)
        except (IndexNotFound, IndexUnavailable):
            indexed = []
        if self.recent is None:
            return indexed
        nearest = {h.id: h for h in self.recent.query(vector, PLAYBOOK_NEIGHBOURS, self.held)}
        nearest.update((h.id, h) for h in indexed)
        return sorted(nearest.values(), key=lambda h: h.distance)[:PLAYBOOK_NEIGHBOURS]

    def held(self, ids: Sequence[str]) -> Collection[str] | None:
        """Which of `ids` the playbooks index holds: from its copy in memory, else by asking the store."""
        held = self.mirrors.held(PLAYBOOKS.index, ids)
        if held is not None:
            return held
        try:
            return self.store.vectors(PLAYBOOKS.index, ids).keys()
        except IndexNotFound:
            return ()
        except IndexUnavailable:
            return None

    def _fetch_workers(
        self, vector: np.ndarray, worker_ids: list[str], flt: Mapping[str, Any] | None, best: Hits
    ) -> None:
        """Score endorsed workers the index search did not return (still honouring the filter)."""
        clauses = translate_filter(flt, WORKERS) if flt and set(flt) <= set(WORKERS.metadata) else []
        ids = [f"worker-{w}" for w in worker_ids]
        try:
            fetched = self.store.fetch(
                WORKERS.index, ids=ids, model=self.model, query=vector, where=chroma_where(clauses)
            )
        except (IndexNotFound, IndexUnavailable):
            return
        for vh in fetched:
            hit = hit_from(WORKERS, vh)
            best[(WORKERS.entity, hit.entity_id)] = hit
