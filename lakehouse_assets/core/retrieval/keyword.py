"""BM25 keyword ranking over a corpus's documents (bm25s), the other half of hybrid search.

Dense similarity knows that "pallet jack" is near "reach truck"; BM25 knows the document literally says
"OSHA 30". Matrix search fuses the two rankings by reciprocal rank (`rrf`), and the keyword ranking
alone is what the evaluation compares against. Scores are computed over every document and masked to
the admitted set, so a constraint never lets a non-matching document in.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RRF_K = 60  # the constant of reciprocal-rank fusion (Cormack et al.): 1 / (RRF_K + rank)


class KeywordIndex:
    def __init__(self, texts: Sequence[str]) -> None:
        import bm25s

        self._bm25s = bm25s
        self.size = len(texts)
        self._index = bm25s.BM25()
        tokenized = bm25s.tokenize(list(texts), stopwords="en", show_progress=False)
        self._index.index(tokenized, show_progress=False)

    def _terms(self, query: str) -> list[str]:
        found = self._bm25s.tokenize([query], stopwords="en", show_progress=False, return_ids=False)
        return list(found[0]) if found else []

    def scores(self, query: str, mask: np.ndarray | None = None) -> np.ndarray:
        """BM25 score of every document (0 where masked out or nothing matches)."""
        terms = [t for t in self._terms(query) if t in self._index.vocab_dict]
        if not terms:
            return np.zeros(self.size, dtype=np.float32)
        scores = np.asarray(self._index.get_scores(terms), dtype=np.float32)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        return scores

    def top(self, query: str, k: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """(document position, score) of the best `k` documents with a positive score, best first."""
        scores = self.scores(query, mask)
        # Partition only the documents that scored (a query's terms touch a share of the corpus), not
        # every zero: 0.1-0.25 ms less a search at 200,000 documents.
        candidates = np.flatnonzero(scores > 0)
        k = min(k, len(candidates))
        if k <= 0:
            return []
        found = scores[candidates]
        kth = np.partition(found, len(found) - k)[len(found) - k]
        # Every document above the k-th score, then the ties at it by position: the same answer each time.
        chosen = np.concatenate([candidates[found > kth], candidates[found == kth]])[:k]
        top = chosen[np.lexsort((chosen, -scores[chosen]))]
        return [(int(i), float(scores[i])) for i in top]


def rrf(*rankings: Sequence[str], k: int = RRF_K) -> dict[str, float]:
    """Reciprocal-rank fusion of rankings (ids, best first): id -> sum of 1 / (k + rank), rank from 1."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, id_ in enumerate(ranking, start=1):
            fused[id_] = fused.get(id_, 0.0) + 1.0 / (k + rank)
    return fused
