"""The daily drifts of what the platform witnessed: the scorer's scores against the previous day's (KS,
Wasserstein, mean shift), and the day's endorsements against all earlier ones (Jensen-Shannon distance and
the share of endorsed workers never endorsed before)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from lakehouse_assets.core.drift.datasets import numbers_of
from lakehouse_assets.core.drift.names import SCORED_EVIDENCE
from lakehouse_assets.core.drift.sampling import sample_rows
from lakehouse_assets.core.drift.statistics import categorical_scores, numeric_scores
from lakehouse_assets.core.drift.verdicts import Verdict, verdict
from lakehouse_assets.core.lake.handle import Lake
from lakehouse_assets.core.memory.playbooks import PlaybookRecord

SCORER_DRIFT_SCHEMA = pa.schema(
    [
        ("day", pa.string()),
        ("previous_day", pa.string()),
        ("baseline_rows", pa.int64()),
        ("current_rows", pa.int64()),
        ("baseline_mean", pa.float64()),
        ("current_mean", pa.float64()),
        ("mean_shift", pa.float64()),
        ("ks_statistic", pa.float64()),
        ("ks_pvalue", pa.float64()),
        ("wasserstein", pa.float64()),
        ("verdict", pa.string()),
    ]
)


def previous_day(day: str) -> str:
    return (date.fromisoformat(day) - timedelta(days=1)).isoformat()


def score_scorer(
    conn: duckdb.DuckDBPyConnection,
    day: str,
    *,
    lake: Lake,
    max_sample: int,
    min_rows: int,
    limits: Mapping[str, float],
) -> dict[str, Any]:
    """The day's `scored_evidence` scores against the previous day's (seeded samples of at most
    `max_sample` each); verdict `no_data` while the dataset does not exist."""
    before = previous_day(day)
    row: dict[str, Any] = {"day": day, "previous_day": before}
    if lake.mount_if_exists(conn, SCORED_EVIDENCE) is None:
        return {**row, "baseline_rows": 0, "current_rows": 0, "verdict": Verdict.NO_DATA}

    def scores(d: str) -> np.ndarray:
        where = "CAST(day AS VARCHAR) = ? AND score IS NOT NULL AND NOT isnan(score)"
        sample = sample_rows(conn, SCORED_EVIDENCE, ["score"], max_sample, where=where, params=[d])
        return numbers_of(sample.column("score"))

    b, c = scores(before), scores(day)
    s = numeric_scores(b, c)
    row.update(
        baseline_rows=len(b),
        current_rows=len(c),
        baseline_mean=s.baseline_mean,
        current_mean=s.current_mean,
        mean_shift=s.mean_shift,
        ks_statistic=s.ks_statistic,
        ks_pvalue=s.ks_pvalue,
        wasserstein=s.wasserstein,
    )
    row["verdict"] = verdict(len(b), len(c), row, limits, min_rows)
    return row


PLAYBOOK_DRIFT_SCHEMA = pa.schema(
    [
        ("day", pa.string()),
        ("baseline_records", pa.int64()),
        ("current_records", pa.int64()),
        ("baseline_endorsements", pa.int64()),
        ("current_endorsements", pa.int64()),
        ("baseline_workers", pa.int64()),
        ("current_workers", pa.int64()),
        ("new_workers", pa.int64()),
        ("new_worker_share", pa.float64()),
        ("js_distance", pa.float64()),
        ("verdict", pa.string()),
    ]
)


def recorded_day(recorded_at: str) -> str | None:
    """The UTC day of an ISO-8601 timestamp (naive ones are taken as UTC); None if it does not parse."""
    try:
        t = datetime.fromisoformat(recorded_at)
    except (TypeError, ValueError):
        return None
    if t.tzinfo is not None:
        t = t.astimezone(UTC)
    return t.date().isoformat()


def score_playbooks(
    records: Iterable[PlaybookRecord], day: str, *, min_rows: int, limits: Mapping[str, float]
) -> dict[str, Any]:
    """Endorsements recorded on `day` against all recorded before it: Jensen-Shannon distance between
    the per-worker endorsement counts, and the share of the day's endorsed workers never endorsed
    before. A record logged twice counts once; records after `day` are ignored, so a past day scores
    the same later on. Sample sizes are endorsements."""
    date.fromisoformat(day)
    seen: set[str] = set()
    before: Counter[str] = Counter()
    today: Counter[str] = Counter()
    n_before = n_today = 0
    for r in records:
        if r.playbook_id in seen:
            continue
        seen.add(r.playbook_id)
        d = recorded_day(r.recorded_at)
        if d is None or d > day:
            continue
        if d == day:
            today.update(r.endorsed_ids)
            n_today += 1
        else:
            before.update(r.endorsed_ids)
            n_before += 1
    new = [w for w in today if w not in before]
    row: dict[str, Any] = {
        "day": day,
        "baseline_records": n_before,
        "current_records": n_today,
        "baseline_endorsements": before.total(),
        "current_endorsements": today.total(),
        "baseline_workers": len(before),
        "current_workers": len(today),
        "new_workers": len(new),
        "new_worker_share": len(new) / len(today) if today else math.nan,
        "js_distance": categorical_scores(before, today).js_distance,
    }
    row["verdict"] = verdict(before.total(), today.total(), row, limits, min_rows)
    return row
