"""Drift statistics on synthetic data with a known shift (clearly over the default thresholds) and
without one (two draws of one distribution: near zero, under them), and the verdicts they lead to."""

from __future__ import annotations

import io
import math
from collections import Counter

import duckdb
import numpy as np
import pytest

from lakehouse_assets.core.drift.daily import recorded_day, score_playbooks
from lakehouse_assets.core.drift.datasets import DatasetDrift, column_kind, score_dataset
from lakehouse_assets.core.drift.exceptions import DriftError
from lakehouse_assets.core.drift.statistics import (
    CategoricalScores,
    categorical_scores,
    centroid_shift,
    mmd_rbf,
    numeric_scores,
    psi,
)
from lakehouse_assets.core.drift.verdicts import (
    dataset_limits,
    embedding_limits,
    offending_rows,
    playbook_limits,
    verdict,
)
from lakehouse_assets.core.ingest.csv import IngestLimits, ingest_csv
from lakehouse_assets.core.memory.playbooks import PlaybookRecord
from lakehouse_assets.core.settings import LakehouseSettings

DEFAULTS = LakehouseSettings(_env_file=None)
N = 5_000


def normal(seed: int, mean: float = 0.0, sd: float = 1.0, n: int = N) -> np.ndarray:
    return np.random.default_rng(seed).normal(mean, sd, n)


@pytest.mark.parametrize(
    ("current", "psi", "ks", "wasserstein", "expected"),
    [
        # normal(0,1) vs normal(0.5,1): PSI ≈ 0.25, KS ≈ 2Φ(0.25)-1 ≈ 0.197 (right at its threshold)
        pytest.param(normal(2, mean=0.5), (0.2, 0.35), (0.17, 0.23), (0.45, 0.55), "drift", id="mean+0.5"),
        pytest.param(normal(2, mean=1.0), (0.8, 1.3), (0.35, 0.42), (0.95, 1.05), "drift", id="mean+1"),
        pytest.param(normal(2, sd=2.0), (0.3, 1.0), (0.1, 0.25), (0.6, 1.0), "drift", id="sd*2"),
        pytest.param(normal(2), (0.0, 0.02), (0.0, 0.04), (0.0, 0.06), "stable", id="same distribution"),
    ],
)
def test_numeric_scores_see_a_known_shift_and_not_noise(current, psi, ks, wasserstein, expected):
    s = numeric_scores(normal(1), current)
    assert psi[0] <= s.psi <= psi[1]
    assert ks[0] <= s.ks_statistic <= ks[1]
    assert wasserstein[0] <= s.wasserstein <= wasserstein[1]
    assert (s.ks_pvalue < 1e-6) == (expected == "drift")
    scores = {"psi": s.psi, "ks_statistic": s.ks_statistic}
    assert verdict(N, N, scores, dataset_limits(DEFAULTS), 30) == expected


def test_psi_bins_at_baseline_quantiles_and_survives_empty_bins():
    baseline = np.arange(1000, dtype=float)
    assert psi(baseline, baseline) == 0.0
    # every current value lands in the top bin: 9 bins empty, counted as epsilon instead of log(0)
    assert math.isfinite(psi(baseline, np.full(100, 5000.0))) and psi(baseline, np.full(100, 5000.0)) > 5
    # a constant baseline still tells a different constant apart
    assert psi(np.full(100, 5.0), np.full(100, 6.0)) > 5
    assert math.isnan(psi(baseline, np.array([])))


def test_nan_values_are_ignored_and_empty_sides_score_nan():
    with_nan = np.concatenate([normal(1), [np.nan] * 50])
    assert numeric_scores(with_nan, normal(1)).ks_statistic == 0.0
    empty = numeric_scores([], normal(1))
    assert math.isnan(empty.psi) and math.isnan(empty.ks_statistic) and math.isnan(empty.baseline_mean)


def _counts(shares: dict[str, float], n: int, seed: int) -> Counter[str]:
    keys = sorted(shares)
    draws = np.random.default_rng(seed).choice(keys, size=n, p=[shares[k] for k in keys])
    return Counter(draws.tolist())


ROLES = {"welder": 0.5, "cook": 0.3, "driver": 0.2}


@pytest.mark.parametrize(
    ("current", "js", "drifted"),
    [
        pytest.param(_counts({"welder": 0.2, "cook": 0.3, "driver": 0.5}, N, 2), (0.2, 0.35), True, id="shares moved"),
        pytest.param(_counts({**ROLES, "nurse": 0.0}, N, 2), (0.0, 0.03), False, id="same shares"),
        pytest.param(Counter({"nurse": 10, "welder": 10}), (0.6, 1.0), True, id="new category"),
    ],
)
def test_categorical_scores_see_a_known_shift_and_not_noise(current, js, drifted):
    s = categorical_scores(_counts(ROLES, N, 1), current)
    assert js[0] <= s.js_distance <= js[1]
    assert (s.js_distance > DEFAULTS.drift_js_threshold) == drifted
    assert (s.chi2_pvalue < 1e-3) == drifted
    assert s.categories == len(set(ROLES) | set(current))


def test_categorical_edge_cases():
    assert categorical_scores({"a": 5}, {"a": 7}) == CategoricalScores(0.0, 0.0, 1.0, 1)
    disjoint = categorical_scores({"a": 5}, {"b": 5})
    assert disjoint.js_distance == pytest.approx(1.0)
    assert math.isnan(categorical_scores({}, {"a": 1}).js_distance)


@pytest.mark.parametrize(
    ("baseline_rows", "current_rows", "scores", "expected"),
    [
        (29, 1000, {"psi": 5.0}, "too_few_rows"),
        (1000, 0, {"psi": math.nan}, "too_few_rows"),
        (30, 30, {"psi": 0.21}, "drift"),
        (30, 30, {"psi": 0.2, "ks_statistic": 0.2, "js_distance": 0.1}, "stable"),
        (30, 30, {"psi": math.nan, "js_distance": None}, "stable"),
    ],
)
def test_verdicts(baseline_rows, current_rows, scores, expected):
    assert verdict(baseline_rows, current_rows, scores, dataset_limits(DEFAULTS), 30) == expected


def test_offending_rows_ignore_unscored_verdicts():
    limits = {"psi": 0.2}
    rows = [
        {"column_name": "a", "psi": 0.5, "verdict": "drift"},
        {"column_name": "b", "psi": 0.5, "verdict": "too_few_rows"},
        {"column_name": "c", "psi": 0.1, "verdict": "stable"},
        {"column_name": "d", "psi": None, "verdict": "no_data"},
    ]
    assert [r["column_name"] for r in offending_rows(rows, limits)] == ["a"]


def vectors(seed: int, n: int = 300, d: int = 384, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    center = np.zeros(d)
    center[:8] = 3.0  # a common direction, as real embeddings have
    center[8:16] += shift * 3.0
    return center + rng.normal(0.0, 1.0, (n, d))


@pytest.mark.parametrize(
    ("current", "centroid", "mmd", "drifted"),
    [
        pytest.param(vectors(2, shift=1.0), (0.25, 0.35), (0.05, 1.0), True, id="shifted"),
        pytest.param(vectors(2), (0.0, 0.02), (0.0, 0.02), False, id="same distribution"),
        pytest.param(vectors(1), (0.0, 1e-9), (0.0, 1e-9), False, id="identical"),
    ],
)
def test_embedding_scores_see_a_known_shift_and_not_noise(current, centroid, mmd, drifted):
    baseline = vectors(1)
    shift, discrepancy = centroid_shift(baseline, current), mmd_rbf(baseline, current)
    assert centroid[0] <= shift <= centroid[1]
    assert mmd[0] <= discrepancy <= mmd[1]
    scores = {"centroid_shift": shift, "mmd": discrepancy}
    assert (verdict(300, 300, scores, embedding_limits(DEFAULTS), 30) == "drift") == drifted


def test_embedding_scores_of_empty_or_zero_samples_are_nan():
    assert math.isnan(mmd_rbf(np.zeros((0, 4)), np.ones((3, 4))))
    assert math.isnan(centroid_shift(np.zeros((3, 4)), np.ones((3, 4))))


def record(day: str, *ids: str, query: str = "forklift driver") -> PlaybookRecord:
    return PlaybookRecord(query=query, endorsed_ids=ids, recorded_at=f"{day}T10:00:00.000Z")


def test_playbook_drift_compares_the_day_with_everything_before():
    history = [record("2026-03-0" + str(d), "w1", "w2", "w3", query=f"q{d}{i}") for d in (1, 2) for i in range(10)]
    same = [record("2026-03-03", "w1", "w2", "w3", query=f"s{i}") for i in range(10)]
    moved = [record("2026-03-03", "w7", "w8", "w1", query=f"m{i}") for i in range(10)]
    later = [record("2026-03-04", "w9", query="later")]
    limits = playbook_limits(DEFAULTS)

    stable = score_playbooks([*history, *same, *same, *later], "2026-03-03", min_rows=30, limits=limits)
    assert stable["js_distance"] == pytest.approx(0.0, abs=1e-9)
    assert (stable["baseline_endorsements"], stable["current_endorsements"]) == (60, 30)  # duplicates count once
    assert (stable["new_workers"], stable["new_worker_share"], stable["verdict"]) == (0, 0.0, "stable")

    shifted = score_playbooks([*history, *moved], "2026-03-03", min_rows=30, limits=limits)
    assert shifted["js_distance"] > 0.5 and shifted["verdict"] == "drift"
    assert (shifted["current_workers"], shifted["new_workers"]) == (3, 2)
    assert shifted["new_worker_share"] == pytest.approx(2 / 3)

    few = score_playbooks([*history, *moved[:2]], "2026-03-03", min_rows=30, limits=limits)
    assert few["verdict"] == "too_few_rows" and few["current_endorsements"] == 6

    first_day = score_playbooks(history, "2026-03-01", min_rows=30, limits=limits)
    assert first_day["baseline_endorsements"] == 0 and math.isnan(first_day["js_distance"])


def test_recorded_day_is_the_utc_day():
    assert recorded_day("2026-03-03T23:30:00-02:00") == "2026-03-04"
    assert recorded_day("2026-03-03T10:00:00.000Z") == "2026-03-03"
    assert recorded_day("not a time") is None


@pytest.mark.parametrize(
    ("sql_type", "kind"),
    [
        ("BIGINT", "integer"),
        ("UINTEGER", "integer"),
        ("DOUBLE", "float"),
        ("DECIMAL(10,2)", "float"),
        ("VARCHAR", "categorical"),
        ("BOOLEAN", "categorical"),
        ("DATE", None),
        ("VARCHAR[]", None),
    ],
)
def test_column_kinds(sql_type, kind):
    assert column_kind(sql_type) == kind


def test_seeded_sample_of_a_large_dataset_is_repeatable(settings, lake, catalog):
    rng = np.random.default_rng(0)
    lines = ["worker_id,role,hourly_rate"] + [
        f"{i},{rng.choice(['welder', 'cook'])},{rng.normal(25, 3):.2f}" for i in range(1, 3001)
    ]
    ingest_csv(
        io.BytesIO("\n".join(lines).encode()),
        "workers",
        lake=lake,
        limits=IngestLimits(),
    )
    conn = duckdb.connect()

    def score() -> DatasetDrift:
        return score_dataset(
            conn,
            "2026-03-03",
            "workers",
            lake=lake,
            baseline_version=1,
            max_sample=500,
            min_rows=30,
            limits=dataset_limits(DEFAULTS),
        )

    first, second = score(), score()
    assert first.baseline_sample == first.current_sample == 500
    assert first.rows == second.rows
    assert [r["column_name"] for r in first.rows] == ["role", "hourly_rate"]
    assert all(r.get("psi", 0.0) == 0.0 and r.get("js_distance", 0.0) == 0.0 for r in first.rows)
    assert first.skipped == {"worker_id": "identifies rows"}
    with pytest.raises(DriftError, match="no version 2"):
        score_dataset(
            conn,
            "2026-03-03",
            "workers",
            lake=lake,
            baseline_version=2,
            max_sample=500,
            min_rows=30,
            limits={},
        )
