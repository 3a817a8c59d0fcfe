"""Drift thresholds, as warnings: each check reads the day's stored scores and fails (WARN) when a row is
over a configured threshold. Rows whose verdict says they were not really scored (too few rows, no
index, no data) never fail it. Changing a threshold and re-running a check re-judges stored scores."""

from collections.abc import Callable, Mapping
from typing import Any

import dagster as dg
from dagster_duckdb import DuckDBResource

from lakehouse_assets.core.drift.names import DATASET_DRIFT, EMBEDDING_DRIFT, PLAYBOOK_DRIFT, SCORER_DRIFT
from lakehouse_assets.core.drift.tables import stored_day
from lakehouse_assets.core.drift.verdicts import (
    UNSCORED,
    dataset_limits,
    embedding_limits,
    offending_rows,
    over_limits,
    playbook_limits,
    scorer_limits,
)
from lakehouse_assets.core.settings import LakehouseSettings
from lakehouse_assets.defs.days import days
from lakehouse_assets.resources import LakeResource


def _describe(row: Mapping[str, Any], label: str, limits: Mapping[str, float]) -> str:
    over = ", ".join(f"{name} {row[name]:.4g} > {limits[name]:g}" for name in over_limits(row, limits))
    return f"{row[label]} ({over})"


def _judge(
    context: dg.AssetCheckExecutionContext,
    lake: LakeResource,
    duckdb: DuckDBResource,
    name: str,
    label: str,
    limits_of: Callable[[LakehouseSettings], dict[str, float]],
) -> dg.AssetCheckResult:
    limits = limits_of(lake.settings())
    with duckdb.get_connection() as conn:
        rows = stored_day(conn, name, context.partition_key, lake=lake.open())
    offending = offending_rows(rows, limits)
    return dg.AssetCheckResult(
        passed=not offending,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "rows": dg.MetadataValue.int(len(rows)),
            "over_threshold": dg.MetadataValue.int(len(offending)),
            "unscored": dg.MetadataValue.int(sum(r["verdict"] in UNSCORED for r in rows)),
            "offending": dg.MetadataValue.text("; ".join(_describe(r, label, limits) for r in offending) or "none"),
            "thresholds": dg.MetadataValue.json(limits),
        },
    )


@dg.asset_check(asset="dataset_drift", partitions_def=days, blocking=False)
def dataset_columns_within_drift_thresholds(
    context: dg.AssetCheckExecutionContext, lake: LakeResource, duckdb: DuckDBResource
) -> dg.AssetCheckResult:
    """No column's PSI, KS statistic or Jensen-Shannon distance is over its threshold."""
    return _judge(context, lake, duckdb, DATASET_DRIFT, "column_name", dataset_limits)


@dg.asset_check(asset="embedding_drift", partitions_def=days, blocking=False)
def embeddings_within_drift_thresholds(
    context: dg.AssetCheckExecutionContext, lake: LakeResource, duckdb: DuckDBResource
) -> dg.AssetCheckResult:
    """No corpus's centroid shift or MMD against its baseline is over its threshold."""
    return _judge(context, lake, duckdb, EMBEDDING_DRIFT, "corpus", embedding_limits)


@dg.asset_check(asset="scorer_drift", partitions_def=days, blocking=False)
def scorer_within_drift_threshold(
    context: dg.AssetCheckExecutionContext, lake: LakeResource, duckdb: DuckDBResource
) -> dg.AssetCheckResult:
    """The day's scores are within the Wasserstein threshold of the previous day's."""
    return _judge(context, lake, duckdb, SCORER_DRIFT, "day", scorer_limits)


@dg.asset_check(asset="playbook_drift", partitions_def=days, blocking=False)
def playbooks_within_drift_threshold(
    context: dg.AssetCheckExecutionContext, lake: LakeResource, duckdb: DuckDBResource
) -> dg.AssetCheckResult:
    """The day's endorsements are within the Jensen-Shannon threshold of all earlier ones."""
    return _judge(context, lake, duckdb, PLAYBOOK_DRIFT, "day", playbook_limits)
