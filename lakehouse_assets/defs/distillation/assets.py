"""Distillation, one UTC day at a time: the day's journals -> evidence -> scored evidence -> the
fine-tuning export behind the contamination firewall."""

from collections import Counter

import dagster as dg
import duckdb
import pyarrow.compute as pc
from dagster_duckdb import DuckDBResource

from lakehouse_assets.core.distillation.evidence import ORDER, build_evidence
from lakehouse_assets.core.distillation.scoring import score_table
from lakehouse_assets.core.distillation.sft import Firewall, candidates, export_jsonl, export_table, sft_export_key
from lakehouse_assets.core.lake.derived import read_day, replace_day
from lakehouse_assets.core.lake.duck import quote_ident
from lakehouse_assets.defs.days import ON_INPUTS, days
from lakehouse_assets.defs.pools import CATALOG_WRITERS
from lakehouse_assets.metadata import dataset_metadata
from lakehouse_assets.resources import EmbedderResource, LakeResource


def load_holdout(conn: duckdb.DuckDBPyConnection, lake: LakeResource) -> list[str]:
    """The held-out evaluation inputs (dataset `eval_holdout`, column `input`); none if absent."""
    name = lake.settings().eval_holdout_dataset
    if lake.open().mount_if_exists(conn, name) is None:
        return []
    sql = f"SELECT CAST(input AS VARCHAR) FROM {quote_ident(name)} WHERE input IS NOT NULL"
    return [r[0] for r in conn.execute(sql).fetchall()]


@dg.asset(
    deps=[
        dg.AssetKey("observer_journal"),
        dg.AssetKey("session_journal"),
        dg.AssetKey("playbook_log"),
        dg.AssetKey("replay_journal"),
    ],
    partitions_def=days,
    kinds={"parquet", "duckdb"},
    pool=CATALOG_WRITERS,
)
def evidence_records(
    context: dg.AssetExecutionContext, lake: LakeResource, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    """The day's observer ops, iterate sessions, playbook records and replay runs in one evidence schema,
    each row with its provenance (journal file, 0-based line, byte offset). Idempotent: the same
    journals give the same rows and the same bytes."""
    day = context.partition_key
    table, receipt = build_evidence(lake.settings(), day)
    handle = lake.open()
    with duckdb.get_connection() as conn:
        result = replace_day(conn, "evidence_records", day, table, order_by=ORDER, lake=handle)
    metadata = dataset_metadata(handle.storage, result.manifest, created=result.created)
    metadata["day_rows"] = dg.MetadataValue.int(table.num_rows)
    for source in ("observer", "iterate", "playbook", "replay"):
        metadata[f"{source}_records"] = dg.MetadataValue.int(receipt.counts[source])
    metadata["skipped_lines"] = dg.MetadataValue.int(sum(receipt.skipped.values()))
    metadata["output_hash"] = dg.MetadataValue.text(receipt.output_hash)
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    deps=[evidence_records],
    partitions_def=days,
    automation_condition=ON_INPUTS,
    kinds={"parquet", "duckdb"},
    pool=CATALOG_WRITERS,
)
def scored_evidence(
    context: dg.AssetExecutionContext, lake: LakeResource, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    """Each evidence record with a deterministic score and label (rubric in core/distillation/scoring.py: verdict,
    retries, grounding, latency, token cost)."""
    day = context.partition_key
    handle = lake.open()
    with duckdb.get_connection() as conn:
        evidence = read_day(conn, "evidence_records", day, order_by=ORDER, lake=handle)
        if evidence is None:
            raise dg.Failure("the evidence_records dataset does not exist yet: materialize it first")
        scored = score_table(evidence)
        result = replace_day(conn, "scored_evidence", day, scored, order_by=ORDER, lake=handle)
    labels = Counter(scored.column("label").to_pylist())
    n = scored.num_rows
    metadata = dataset_metadata(handle.storage, result.manifest, created=result.created)
    metadata.update(
        {
            "day_rows": dg.MetadataValue.int(n),
            "mean_score": dg.MetadataValue.float(float(pc.mean(scored.column("score")).as_py() or 0.0) if n else 0.0),
            "gold_share": dg.MetadataValue.float(labels["gold"] / n if n else 0.0),
            **{
                f"{label}_records": dg.MetadataValue.int(labels[label])
                for label in ("gold", "silver", "bronze", "reject")
            },
        }
    )
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    deps=[scored_evidence],
    partitions_def=days,
    automation_condition=ON_INPUTS,
    kinds={"parquet", "jsonl"},
    pool=CATALOG_WRITERS,
)
def sft_export(
    context: dg.AssetExecutionContext, lake: LakeResource, duckdb: DuckDBResource, embedder: EmbedderResource
) -> dg.MaterializeResult:
    """Accepted model outputs scoring at least `sft_min_score`, as chat-format JSONL
    (`exports/sft/<day>.jsonl` in the lake) and rows of the `sft_export` dataset. Inputs matching the
    held-out evaluation set (exactly or as near-duplicates) are kept out: the contamination firewall."""
    day = context.partition_key
    settings = lake.settings()
    handle = lake.open()
    with duckdb.get_connection() as conn:
        scored = read_day(conn, "scored_evidence", day, order_by=ORDER, lake=handle)
        if scored is None:
            raise dg.Failure("the scored_evidence dataset does not exist yet: materialize it first")
        examples = candidates(scored, day, settings.sft_min_score)
        holdout = load_holdout(conn, lake)
        firewall = Firewall(holdout, embedder.get().embed if holdout else None, settings.firewall_similarity)
        verdicts = firewall.check([e.prompt for e in examples])
        kept = [e for e, v in zip(examples, verdicts, strict=True) if v is None]
        blocked = Counter(v.reason for v in verdicts if v is not None)
        for e, v in zip(examples, verdicts, strict=True):
            if v is not None:
                context.log.warning(
                    "firewall: %s kept out (%s of held-out item %d)", e.row["evidence_id"], v.reason, v.holdout_index
                )
        handle.storage.put_bytes(sft_export_key(day), export_jsonl(kept))
        result = replace_day(conn, "sft_export", day, export_table(kept), order_by=("evidence_id",), lake=handle)
    metadata = dataset_metadata(handle.storage, result.manifest, created=result.created)
    metadata.update(
        {
            "candidates": dg.MetadataValue.int(len(examples)),
            "exported": dg.MetadataValue.int(len(kept)),
            "firewalled_exact": dg.MetadataValue.int(blocked["exact"]),
            "firewalled_near_duplicate": dg.MetadataValue.int(blocked["near_duplicate"]),
            "holdout_items": dg.MetadataValue.int(len(holdout)),
            "jsonl_key": dg.MetadataValue.text(sft_export_key(day)),
        }
    )
    return dg.MaterializeResult(metadata=metadata)
