"""The contamination firewall, checked on what was actually stored."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from lakehouse_assets.core.distillation.sft import Firewall
from lakehouse_assets.core.lake.derived import read_day
from lakehouse_assets.defs.days import days
from lakehouse_assets.defs.distillation.assets import load_holdout
from lakehouse_assets.resources import EmbedderResource, LakeResource


@dg.asset_check(asset="sft_export", blocking=True, partitions_def=days)
def contamination_firewall(
    context: dg.AssetCheckExecutionContext, lake: LakeResource, duckdb: DuckDBResource, embedder: EmbedderResource
) -> dg.AssetCheckResult:
    """No exported prompt matches a held-out evaluation item, exactly or as a near-duplicate."""
    settings = lake.settings()
    with duckdb.get_connection() as conn:
        rows = read_day(conn, "sft_export", context.partition_key, order_by=("evidence_id",), lake=lake.open())
        holdout = load_holdout(conn, lake)
    prompts = rows.column("prompt").to_pylist() if rows is not None else []
    ids = rows.column("evidence_id").to_pylist() if rows is not None else []
    firewall = Firewall(holdout, embedder.get().embed if holdout and prompts else None, settings.firewall_similarity)
    hits = [(i, v) for i, v in zip(ids, firewall.check(prompts), strict=True) if v is not None]
    return dg.AssetCheckResult(
        passed=not hits,
        metadata={
            "exported": dg.MetadataValue.int(len(prompts)),
            "holdout_items": dg.MetadataValue.int(len(holdout)),
            "contaminated": dg.MetadataValue.int(len(hits)),
            "evidence_ids": dg.MetadataValue.text(", ".join(f"{i} ({v.reason})" for i, v in hits[:20]) or "none"),
        },
    )
