"""Dataset drift: per column of a dataset, its live version against a baseline version: PSI,
Kolmogorov-Smirnov and Wasserstein distance for numbers; Jensen-Shannon distance and chi-squared for
categories."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse_assets.core.drift.exceptions import DriftError
from lakehouse_assets.core.drift.sampling import sample_rows
from lakehouse_assets.core.drift.statistics import categorical_scores, finite, numeric_scores
from lakehouse_assets.core.drift.verdicts import verdict
from lakehouse_assets.core.lake.catalog import DatasetVersion, Manifest
from lakehouse_assets.core.lake.handle import Lake

MAX_CATEGORIES = 200  # text columns with more distinct values are free text, not categories
ID_LIKE_SHARE = 0.9  # distinct values / rows above which a text or integer column identifies rows


DATASET_DRIFT_SCHEMA = pa.schema(
    [
        ("day", pa.string()),
        ("dataset", pa.string()),
        ("column_name", pa.string()),
        ("column_type", pa.string()),
        ("kind", pa.string()),
        ("baseline_version", pa.int64()),
        ("current_version", pa.int64()),
        ("baseline_rows", pa.int64()),
        ("current_rows", pa.int64()),
        ("categories", pa.int64()),
        ("psi", pa.float64()),
        ("ks_statistic", pa.float64()),
        ("ks_pvalue", pa.float64()),
        ("wasserstein", pa.float64()),
        ("js_distance", pa.float64()),
        ("chi2_statistic", pa.float64()),
        ("chi2_pvalue", pa.float64()),
        ("verdict", pa.string()),
    ]
)

_INTEGER_TYPES = re.compile(r"^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|UHUGEINT)$")
_FLOAT_TYPES = re.compile(r"^(FLOAT|REAL|DOUBLE|DECIMAL\(\d+,\s*\d+\))$")
_CATEGORY_TYPES = ("VARCHAR", "BOOLEAN")


def column_kind(sql_type: str) -> str | None:
    """'integer', 'float' or 'categorical' for the column types drift is scored on; None for the rest."""
    t = sql_type.upper()
    if _INTEGER_TYPES.match(t):
        return "integer"
    if _FLOAT_TYPES.match(t):
        return "float"
    if t in _CATEGORY_TYPES:
        return "categorical"
    return None


@dataclass(frozen=True)
class DatasetDrift:
    dataset: str
    baseline_version: int
    current_version: int
    baseline_sample: int
    current_sample: int
    rows: list[dict[str, Any]]
    skipped: dict[str, str]  # column -> why it was not scored


def _version(manifest: Manifest, number: int) -> DatasetVersion:
    for v in manifest.versions:
        if v.version == number:
            return v
    have = ", ".join(str(v.version) for v in manifest.versions)
    raise DriftError(f"dataset {manifest.name!r} has no version {number} to compare with (versions: {have})")


def _category_counts(values: pa.ChunkedArray) -> Counter[str]:
    values = pc.drop_null(values)
    if pa.types.is_boolean(values.type):
        values = pc.cast(values, pa.string())
    counts = pc.value_counts(values)
    return Counter(
        {
            str(v): int(n)
            for v, n in zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True)
        }
    )


def numbers_of(values: pa.ChunkedArray) -> np.ndarray:
    return finite(pc.cast(pc.drop_null(values), pa.float64()).to_numpy())


def score_dataset(
    conn: duckdb.DuckDBPyConnection,
    day: str,
    dataset: str,
    *,
    lake: Lake,
    baseline_version: int,
    max_sample: int,
    min_rows: int,
    limits: Mapping[str, float],
    max_categories: int = MAX_CATEGORIES,
) -> DatasetDrift:
    """Per column of `dataset`, its live version against version `baseline_version`, each side a seeded
    sample of at most `max_sample` rows. Numeric columns get PSI, KS and Wasserstein; text and boolean
    columns with at most `max_categories` values get Jensen-Shannon and chi-squared. Columns that
    identify rows (nearly one distinct value per row), free text and other types are skipped."""
    date.fromisoformat(day)
    lake.catalog.refresh()
    manifest = lake.catalog.get(dataset)
    baseline, current = _version(manifest, baseline_version), manifest.current
    kinds = {c.name: column_kind(c.type) for c in manifest.schema}
    skipped = {c.name: f"type {c.type}" for c in manifest.schema if kinds[c.name] is None}
    columns = [c.name for c in manifest.schema if kinds[c.name] is not None]
    lake.mount(conn, "__drift_baseline", baseline.data_files)
    lake.mount(conn, "__drift_current", current.data_files)
    b_sample = sample_rows(conn, "__drift_baseline", columns, max_sample)
    c_sample = sample_rows(conn, "__drift_current", columns, max_sample)
    rows = []
    for col in manifest.schema:
        kind = kinds[col.name]
        if kind is None:
            continue
        row: dict[str, Any] = {
            "day": day,
            "dataset": dataset,
            "column_name": col.name,
            "column_type": col.type,
            "kind": "numeric" if kind != "categorical" else kind,
            "baseline_version": baseline.version,
            "current_version": current.version,
        }
        if kind != "categorical":
            b, c = numbers_of(b_sample.column(col.name)), numbers_of(c_sample.column(col.name))
            if kind == "integer" and _id_like(
                (len(np.unique(b)), len(b)), (len(np.unique(c)), len(c)), min_rows=min_rows
            ):
                skipped[col.name] = "identifies rows"
                continue
            s = numeric_scores(b, c)
            row.update(
                baseline_rows=len(b),
                current_rows=len(c),
                psi=s.psi,
                ks_statistic=s.ks_statistic,
                ks_pvalue=s.ks_pvalue,
                wasserstein=s.wasserstein,
            )
        else:
            b_counts = _category_counts(b_sample.column(col.name))
            c_counts = _category_counts(c_sample.column(col.name))
            n_b, n_c = b_counts.total(), c_counts.total()
            if _id_like((len(b_counts), n_b), (len(c_counts), n_c), min_rows=min_rows):
                skipped[col.name] = "identifies rows"
                continue
            distinct = len(set(b_counts) | set(c_counts))
            if distinct > max_categories:
                skipped[col.name] = f"free text ({distinct} distinct values)"
                continue
            s = categorical_scores(b_counts, c_counts)
            row.update(
                baseline_rows=n_b,
                current_rows=n_c,
                categories=s.categories,
                js_distance=s.js_distance,
                chi2_statistic=s.chi2_statistic,
                chi2_pvalue=s.chi2_pvalue,
            )
        row["verdict"] = verdict(row["baseline_rows"], row["current_rows"], row, limits, min_rows)
        rows.append(row)
    return DatasetDrift(
        dataset=dataset,
        baseline_version=baseline.version,
        current_version=current.version,
        baseline_sample=b_sample.num_rows,
        current_sample=c_sample.num_rows,
        rows=rows,
        skipped=skipped,
    )


def _id_like(*sides: tuple[int, int], min_rows: int) -> bool:
    """Nearly one distinct value per row on a side, given as (distinct values, values); judged only on
    samples big enough to tell."""
    return any(n >= min_rows and distinct >= ID_LIKE_SHARE * n for distinct, n in sides)
