"""The load-bearing guarantee: no fill the iterate loop accepted names a worker missing from the roster."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from lakehouse_assets.core.llm.iterate_sessions import ungrounded_accepted_fills
from lakehouse_assets.defs.days import days
from lakehouse_assets.resources import LakeResource


@dg.asset_check(asset="iterate_sessions", blocking=True, partitions_def=days)
def no_ungrounded_accepted_fill(
    context: dg.AssetCheckExecutionContext, lake: LakeResource, duckdb: DuckDBResource
) -> dg.AssetCheckResult:
    """Every accepted fill of the day has grounded_in_roster = true. A failure means something accepted
    a proposal without the roster check."""
    with duckdb.get_connection() as conn:
        bad = ungrounded_accepted_fills(conn, context.partition_key, lake=lake.open())
    return dg.AssetCheckResult(
        passed=not bad,
        metadata={
            "ungrounded_accepted_fills": dg.MetadataValue.int(len(bad)),
            "session_ids": dg.MetadataValue.text(", ".join(bad[:20]) or "none"),
        },
    )
