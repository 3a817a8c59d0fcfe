"""The one way every benchmark reads a latency distribution."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def percentile(samples: Sequence[float], q: int) -> float:
    """The q-th percentile (1-99), interpolated between the samples around it; one sample is its own."""
    if len(samples) == 1:
        return float(samples[0])
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


def p50(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def p95(samples: Sequence[float]) -> float:
    return percentile(samples, 95)


def p99(samples: Sequence[float]) -> float:
    return percentile(samples, 99)


def p50_p95(samples: Sequence[float]) -> tuple[float, float]:
    return p50(samples), p95(samples)
