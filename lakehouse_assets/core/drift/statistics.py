"""The drift statistics: PSI, KS, Wasserstein, Jensen-Shannon, chi-squared, centroid shift and MMD, over
two samples. SciPy's where it has them."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import cdist, cosine, jensenshannon
from scipy.stats import chi2_contingency, ks_2samp, wasserstein_distance

PSI_BINS = 10
PSI_EPSILON = 1e-4  # stands in for an empty bin's share, so log(0) never happens


def finite(values: Iterable[float] | np.ndarray) -> np.ndarray:
    """A sorted float64 array without NaNs (sorted so sums do not depend on row order)."""
    a = np.asarray(values, dtype=np.float64).reshape(-1)
    return np.sort(a[~np.isnan(a)])


def psi(baseline: np.ndarray, current: np.ndarray, *, bins: int = PSI_BINS, epsilon: float = PSI_EPSILON) -> float:
    """Population stability index of `current` against `baseline`, over `bins` bins cut at the baseline's
    quantiles (right-closed; tied quantiles merge bins). Empty bins count as `epsilon`. NaN if a side is empty."""
    b, c = finite(baseline), finite(current)
    if not len(b) or not len(c):
        return math.nan
    edges = np.unique(np.quantile(b, np.linspace(0, 1, bins + 1)[1:-1]))
    b_share = np.bincount(np.searchsorted(edges, b, side="left"), minlength=len(edges) + 1) / len(b)
    c_share = np.bincount(np.searchsorted(edges, c, side="left"), minlength=len(edges) + 1) / len(c)
    b_share, c_share = np.maximum(b_share, epsilon), np.maximum(c_share, epsilon)
    return float(np.sum((c_share - b_share) * np.log(c_share / b_share)))


@dataclass(frozen=True)
class NumericScores:
    psi: float
    ks_statistic: float
    ks_pvalue: float
    wasserstein: float
    baseline_mean: float
    current_mean: float

    @property
    def mean_shift(self) -> float:
        return self.current_mean - self.baseline_mean


def numeric_scores(baseline: Iterable[float] | np.ndarray, current: Iterable[float] | np.ndarray) -> NumericScores:
    """PSI, two-sample KS (statistic, p-value), Wasserstein distance and means; NaN where a side is empty."""
    b, c = finite(baseline), finite(current)
    if not len(b) or not len(c):
        nan = math.nan
        return NumericScores(nan, nan, nan, nan, float(b.mean()) if len(b) else nan, float(c.mean()) if len(c) else nan)
    ks = ks_2samp(b, c)
    return NumericScores(
        psi=psi(b, c),
        ks_statistic=float(ks.statistic),
        ks_pvalue=float(ks.pvalue),
        wasserstein=float(wasserstein_distance(b, c)),
        baseline_mean=float(b.mean()),
        current_mean=float(c.mean()),
    )


@dataclass(frozen=True)
class CategoricalScores:
    js_distance: float
    chi2_statistic: float
    chi2_pvalue: float
    categories: int


def categorical_scores(baseline: Mapping[str, int], current: Mapping[str, int]) -> CategoricalScores:
    """Jensen-Shannon distance (base 2, 0..1) and chi-squared test of homogeneity between two category
    counts, over the union of categories. NaN where a side is empty; a single category is no shift."""
    categories = sorted(set(baseline) | set(current))
    b = np.array([baseline.get(k, 0) for k in categories], dtype=np.float64)
    c = np.array([current.get(k, 0) for k in categories], dtype=np.float64)
    if not b.sum() or not c.sum():
        return CategoricalScores(math.nan, math.nan, math.nan, len(categories))
    js = float(jensenshannon(b, c, base=2))
    if len(categories) < 2:
        return CategoricalScores(js, 0.0, 1.0, len(categories))
    chi2 = chi2_contingency(np.vstack([b, c]), correction=False)
    return CategoricalScores(js, float(chi2.statistic), float(chi2.pvalue), len(categories))


def centroid_shift(baseline: np.ndarray, current: np.ndarray) -> float:
    """Cosine distance between the mean vectors of two samples (0 = same direction); NaN if a mean is zero."""
    mb, mc = np.asarray(baseline, dtype=np.float64).mean(axis=0), np.asarray(current, dtype=np.float64).mean(axis=0)
    if not np.any(mb) or not np.any(mc):
        return math.nan
    return float(cosine(mb, mc))


def mmd_rbf(baseline: np.ndarray, current: np.ndarray) -> float:
    """Squared maximum mean discrepancy (biased estimator) under an RBF kernel exp(-d²/2σ²) whose σ is the
    median pairwise distance of the pooled sample (the median heuristic). 0 for identical samples;
    O(1/n) for two samples of one distribution. NaN if a side is empty."""
    x, y = np.asarray(baseline, dtype=np.float64), np.asarray(current, dtype=np.float64)
    if not len(x) or not len(y):
        return math.nan
    pooled = np.vstack([x, y])
    d2 = cdist(pooled, pooled, "sqeuclidean")
    pairs = d2[np.triu_indices(len(pooled), k=1)]
    sigma2 = float(np.median(pairs)) if len(pairs) else 0.0
    if sigma2 <= 0.0:
        return 0.0
    k = np.exp(-d2 / (2.0 * sigma2))
    n = len(x)
    value = k[:n, :n].mean() + k[n:, n:].mean() - 2.0 * k[:n, n:].mean()
    return float(max(value, 0.0))
