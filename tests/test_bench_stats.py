"""The one latency reader of the benchmarks: percentiles interpolated between samples."""

from __future__ import annotations

import pytest

from bench import stats


def test_percentiles_of_a_known_distribution() -> None:
    samples = [float(i) for i in range(1, 101)]  # 1..100 ms
    assert stats.p50(samples) == 50.5
    assert stats.p95(samples) == pytest.approx(95.05)
    assert stats.p99(samples) == pytest.approx(99.01)
    assert stats.p50_p95(list(reversed(samples))) == (50.5, pytest.approx(95.05))  # order does not matter
    assert stats.p99([7.0]) == 7.0
