"""KeywordIndex.top: the best k positive BM25 scores, best first, ties by position, masked rows never."""

from __future__ import annotations

import numpy as np
import pytest

from lakehouse_assets.core.retrieval.keyword import KeywordIndex, rrf

TEXTS = [
    "forklift operator night shift",  # 0
    "welder MIG TIG",  # 1
    "forklift operator",  # 2: shorter than 0, so BM25 ranks it above 0
    "CNA nurse aide",  # 3
    "forklift operator",  # 4: ties with 2
    "forklift forklift operator reach truck",  # 5
    "forklift operator",  # 6: ties with 2 and 4
]


@pytest.fixture(scope="module")
def index() -> KeywordIndex:
    return KeywordIndex(TEXTS)


def reference(index: KeywordIndex, query: str, k: int, mask: np.ndarray | None = None) -> list[int]:
    """Every positive score sorted (score descending, position ascending), cut at k."""
    scores = index.scores(query, mask)
    positive = [i for i in range(len(scores)) if scores[i] > 0]
    return sorted(positive, key=lambda i: (-scores[i], i))[:k]


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 100])
def test_top_matches_a_full_sort_with_ties_broken_by_position(index: KeywordIndex, k: int) -> None:
    got = index.top("forklift operator", k)
    assert [i for i, _ in got] == reference(index, "forklift operator", k)
    assert len(got) == min(k, 5)  # five documents mention a term; the rest never appear
    scores = [s for _, s in got]
    assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)


def test_ties_at_the_cut_keep_the_earliest_positions(index: KeywordIndex) -> None:
    scores = index.scores("forklift operator")
    assert scores[2] == scores[4] == scores[6]  # the fixture's premise
    ranking = [i for i, _ in index.top("forklift operator", 10)]
    first_tied = ranking.index(2)
    assert ranking[first_tied : first_tied + 3] == [2, 4, 6]
    cut = [i for i, _ in index.top("forklift operator", first_tied + 2)]
    assert cut[first_tied:] == [2, 4]  # a cut through the tie keeps positions 2 and 4, not 6


def test_masked_rows_never_rank(index: KeywordIndex) -> None:
    mask = np.ones(len(TEXTS), dtype=bool)
    mask[[2, 5]] = False
    got = [i for i, _ in index.top("forklift operator", 10, mask)]
    assert got == reference(index, "forklift operator", 10, mask)
    assert 2 not in got and 5 not in got and got


def test_no_matching_term_ranks_nothing(index: KeywordIndex) -> None:
    assert index.top("astronaut", 10) == []
    assert index.top("forklift", 0) == []
    assert index.top("forklift", 10, np.zeros(len(TEXTS), dtype=bool)) == []


def test_rrf_sums_reciprocal_ranks() -> None:
    fused = rrf(["a", "b"], ["b", "c"], k=60)
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["a"] == pytest.approx(1 / 61) and fused["c"] == pytest.approx(1 / 62)
