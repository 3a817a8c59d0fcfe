"""The order of a search's hits: reciprocal-rank fusion of the dense ranking (similarity + a playbook boost)
and the keyword ranking (BM25), or either alone."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from lakehouse_assets.core.retrieval.keyword import RRF_K
from lakehouse_assets.core.retrieval.results import Hit, ScoreParts

MAX_BOOST = 0.15  # the most a playbook boost moves a hit's similarity, however many playbooks agree


def better(hit: Hit, than: Hit) -> bool:
    """Of two hits on one entity, the scored one, else the higher score."""
    if hit.dense is None or than.dense is None:
        return than.dense is None and hit.dense is not None
    return hit.dense > than.dense


def rank_hits(hits: list[Hit], keyword: Mapping[str, float], mode: str) -> list[Hit]:
    """The hits in the order of their score, each carrying its parts (ScoreParts): hybrid, by the reciprocal-
    rank fusion of the dense ranking (similarity + boost) and the keyword ranking, then the hits neither
    ranking reached (constraint matches with no vector yet) as they came; dense, by similarity + boost;
    keyword, by BM25."""
    dense_order = sorted((h for h in hits if h.dense is not None), key=lambda h: (-h.dense, h.id))  # type: ignore[operator]
    dense_rank = {h.id: i for i, h in enumerate(dense_order, 1)}
    keyword_rank = {id_: i for i, id_ in enumerate(keyword, 1)}
    keyed: list[tuple[tuple[float, float, str], Hit]] = []
    unranked: list[Hit] = []
    for h in hits:
        d, dr, kr = h.dense, dense_rank.get(h.id), keyword_rank.get(h.id)
        ranks = [r for r in (dr, kr) if r is not None]
        # A playbook boost moves the fused score too (the dense rank alone is diluted by the keyword one): a full
        # boost is worth ranking first in one more list, a rejection as much the other way.
        fused = sum(1.0 / (RRF_K + r) for r in ranks) + h.boost / MAX_BOOST / (RRF_K + 1) if ranks else None
        by = {"hybrid": fused, "dense": d, "keyword": keyword.get(h.id)}[mode]
        parts = ScoreParts(
            similarity=h.similarity, boost=h.boost, dense=None if d is None else round(d, 6), dense_rank=dr,
            keyword=keyword.get(h.id), keyword_rank=kr, fused=None if fused is None else round(fused, 6),
        )  # fmt: skip
        hit = replace(h, score=None if by is None else round(by, 6), parts=parts)
        if by is None:
            unranked.append(hit)
        else:
            # Ties: the keyword ranking's own order in keyword mode, else the better similarity.
            tie = float(kr) if mode == "keyword" and kr is not None else -(d if d is not None else -2.0)
            keyed.append(((-by, tie, h.id), hit))
    keyed.sort(key=lambda x: x[0])
    return [h for _, h in keyed] + unranked
