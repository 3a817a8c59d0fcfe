"""Verdicts on scores: `too_few_rows` when either side is smaller than the minimum (the scores are still
shown, but they are noise), `drift` when a score is over its threshold, else `stable` (plus `no_index` /
`no_data` / `incomparable` when there is nothing to score); and the thresholds from settings."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from lakehouse_assets.core.settings import LakehouseSettings


class Verdict(StrEnum):
    """What a score row says (stored as its text)."""

    STABLE = "stable"
    DRIFT = "drift"
    TOO_FEW_ROWS = "too_few_rows"  # either side is smaller than the minimum: the scores are noise
    NO_INDEX = "no_index"
    NO_DATA = "no_data"
    INCOMPARABLE = "incomparable"


UNSCORED = (Verdict.TOO_FEW_ROWS, Verdict.NO_INDEX, Verdict.NO_DATA, Verdict.INCOMPARABLE)  # a check ignores these


def verdict(
    baseline_rows: int,
    current_rows: int,
    scores: Mapping[str, float | None],
    limits: Mapping[str, float],
    min_rows: int,
) -> Verdict:
    """`too_few_rows` if either sample is smaller than `min_rows`, `drift` if a score is over its limit,
    else `stable`."""
    if min(baseline_rows, current_rows) < min_rows:
        return Verdict.TOO_FEW_ROWS
    return Verdict.DRIFT if over_limits(scores, limits) else Verdict.STABLE


def over_limits(scores: Mapping[str, Any], limits: Mapping[str, float]) -> list[str]:
    """The score names whose value is over its limit (missing and NaN scores never are)."""
    out = []
    for name, limit in limits.items():
        value = scores.get(name)
        if value is not None and not (isinstance(value, float) and math.isnan(value)) and value > limit:
            out.append(name)
    return out


def dataset_limits(settings: LakehouseSettings) -> dict[str, float]:
    return {
        "psi": settings.drift_psi_threshold,
        "ks_statistic": settings.drift_ks_threshold,
        "js_distance": settings.drift_js_threshold,
    }


def embedding_limits(settings: LakehouseSettings) -> dict[str, float]:
    return {"centroid_shift": settings.drift_centroid_threshold, "mmd": settings.drift_mmd_threshold}


def scorer_limits(settings: LakehouseSettings) -> dict[str, float]:
    return {"wasserstein": settings.drift_scorer_threshold}


def playbook_limits(settings: LakehouseSettings) -> dict[str, float]:
    return {"js_distance": settings.drift_playbook_threshold}


def offending_rows(rows: Iterable[Mapping[str, Any]], limits: Mapping[str, float]) -> list[Mapping[str, Any]]:
    """Stored score rows over a limit, ignoring rows whose verdict says they were not scored for real."""
    return [r for r in rows if r.get("verdict") not in UNSCORED and over_limits(r, limits)]
