"""Daily drift scores: each asset writes the day's rows of its score dataset (same name, SQL-queryable)
and reports the scores as numeric metadata, so the Dagster UI plots them partition by partition."""

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import dagster as dg
from dagster_duckdb import DuckDBResource

from lakehouse_assets.core.drift.daily import score_playbooks, score_scorer
from lakehouse_assets.core.drift.datasets import score_dataset
from lakehouse_assets.core.drift.embeddings import score_embeddings
from lakehouse_assets.core.drift.exceptions import DriftError
from lakehouse_assets.core.drift.names import (
    DATASET_DRIFT,
    EMBEDDING_DRIFT,
    PLAYBOOK_DRIFT,
    SCORED_EVIDENCE,
    SCORER_DRIFT,
)
from lakehouse_assets.core.drift.tables import write_scores
from lakehouse_assets.core.drift.verdicts import (
    Verdict,
    dataset_limits,
    embedding_limits,
    playbook_limits,
    scorer_limits,
)
from lakehouse_assets.core.lake.register import IngestResult
from lakehouse_assets.core.lake.storage import LakeStorage
from lakehouse_assets.core.memory.playbooks import PlaybookLog
from lakehouse_assets.core.retrieval.corpora import CORPORA
from lakehouse_assets.defs.days import ON_INPUTS, days
from lakehouse_assets.defs.pools import CATALOG_WRITERS
from lakehouse_assets.metadata import dataset_metadata, table_metadata
from lakehouse_assets.resources import LakeResource, VectorStoreResource


def _score(value: Any) -> dg.MetadataValue | None:
    """A score as plottable float metadata; None for a missing or NaN one (left out of the metadata)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return dg.MetadataValue.float(round(float(value), 6))


def _scores(pairs: Iterable[tuple[str, Any]]) -> dict[str, dg.MetadataValue]:
    return {key: v for key, value in pairs if (v := _score(value)) is not None}


def _max(rows: Iterable[Mapping[str, Any]], column: str) -> float | None:
    values = [r[column] for r in rows if _score(r.get(column)) is not None]
    return max(values) if values else None


def _summary(storage: LakeStorage, result: IngestResult, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The stored score dataset's metadata (version, new_version, preview) plus verdict counts."""
    verdicts = [r["verdict"] for r in rows]
    return {
        **dataset_metadata(storage, result.manifest, created=result.created),
        "drifted": dg.MetadataValue.int(verdicts.count(Verdict.DRIFT)),
        "too_few_rows": dg.MetadataValue.int(verdicts.count(Verdict.TOO_FEW_ROWS)),
    }


def _single_row(row: Mapping[str, Any], ints: Sequence[str], floats: Sequence[str]) -> dict[str, Any]:
    """Metadata of a one-row score table: its counts, its scores and its verdict."""
    return {
        **{c: dg.MetadataValue.int(int(row[c])) for c in ints if row.get(c) is not None},
        **_scores((c, row.get(c)) for c in floats),
        "verdict": dg.MetadataValue.text(str(row["verdict"])),
    }


@dg.asset(
    deps=[dg.AssetDep("datasets", partition_mapping=dg.SpecificPartitionsPartitionMapping(["workers"]))],
    kinds={"duckdb", "parquet", "scipy"},
    partitions_def=days,
    pool=CATALOG_WRITERS,
)
def dataset_drift(
    context: dg.AssetExecutionContext, lake: LakeResource, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    """Per column of the `drift_dataset` (default `workers`), its live version against version
    `drift_baseline_version` (default the first), on seeded samples: PSI, KS and Wasserstein distance
    for numbers, Jensen-Shannon distance and chi-squared for categories. One row per column in the
    `dataset_drift` dataset; id-like and free-text columns are skipped."""
    day = context.partition_key
    settings = lake.settings()
    handle = lake.open()
    name = settings.drift_dataset
    scored = None
    with duckdb.get_connection() as conn:
        if handle.catalog.find(name) is None:
            context.log.warning("dataset %r is not in the catalog yet: nothing to score", name)
        else:
            try:
                scored = score_dataset(
                    conn,
                    day,
                    name,
                    lake=handle,
                    baseline_version=settings.drift_baseline_version,
                    max_sample=settings.drift_max_sample,
                    min_rows=settings.drift_min_rows,
                    limits=dataset_limits(settings),
                    max_categories=settings.drift_max_categories,
                )
            except DriftError as e:
                raise dg.Failure(description=str(e)) from None
        rows = scored.rows if scored else []
        result = write_scores(conn, DATASET_DRIFT, day, rows, lake=handle)
    metrics = ("psi", "ks_statistic", "wasserstein", "js_distance")
    metadata = _summary(handle.storage, result, rows)
    metadata["dataset"] = dg.MetadataValue.text(name)
    metadata["columns_scored"] = dg.MetadataValue.int(len(rows))
    if scored is not None:
        metadata.update(
            {
                "baseline_version": dg.MetadataValue.int(scored.baseline_version),
                "current_version": dg.MetadataValue.int(scored.current_version),
                "baseline_rows": dg.MetadataValue.int(scored.baseline_sample),
                "current_rows": dg.MetadataValue.int(scored.current_sample),
                "skipped_columns": dg.MetadataValue.text(
                    "; ".join(f"{c} ({why})" for c, why in sorted(scored.skipped.items())) or "none"
                ),
            }
        )
    metadata.update(_scores((f"max_{m}", _max(rows, m)) for m in metrics))
    for r in rows:
        metadata.update(_scores((f"{m}.{r['column_name']}", r.get(m)) for m in metrics))
    columns = ("column_name", "kind", "baseline_rows", "current_rows", *metrics, "ks_pvalue", "chi2_pvalue", "verdict")
    metadata["scores"] = table_metadata(rows, columns)
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    deps=[dg.AssetDep("corpus_embeddings", partition_mapping=dg.AllPartitionMapping())],
    kinds={"chroma", "parquet", "scipy"},
    partitions_def=days,
    pool=CATALOG_WRITERS,
)
def embedding_drift(
    context: dg.AssetExecutionContext, lake: LakeResource, duckdb: DuckDBResource, vector_store: VectorStoreResource
) -> dg.MaterializeResult:
    """Per corpus, a seeded sample of its vector index against a baseline sample: cosine shift of the
    centroid and RBF-kernel MMD. The first run that finds a corpus's index stores its sample as the
    baseline (`embedding_baseline` dataset); later runs compare with it. One row per corpus in the
    `embedding_drift` dataset (`no_index` while a corpus has no index)."""
    day = context.partition_key
    settings = lake.settings()
    handle = lake.open()
    with duckdb.get_connection() as conn:
        scored = score_embeddings(
            conn,
            day,
            CORPORA.values(),
            vector_store.get(),
            lake=handle,
            sample_size=settings.drift_embedding_sample,
            min_rows=settings.drift_min_rows,
            limits=embedding_limits(settings),
        )
        result = write_scores(
            conn,
            EMBEDDING_DRIFT,
            day,
            scored.rows,
            lake=handle,
        )
    if scored.baselines_created:
        context.log.info("stored the embedding baseline of %s", ", ".join(scored.baselines_created))
    rows = scored.rows
    metadata = _summary(handle.storage, result, rows)
    metadata["baselines_created"] = dg.MetadataValue.text(", ".join(scored.baselines_created) or "none")
    metadata["no_index"] = dg.MetadataValue.int(sum(r["verdict"] == Verdict.NO_INDEX for r in rows))
    metadata.update(_scores((f"max_{m}", _max(rows, m)) for m in ("centroid_shift", "mmd")))
    for r in rows:
        metadata.update(_scores((f"{m}.{r['corpus']}", r.get(m)) for m in ("centroid_shift", "mmd")))
        metadata[f"vectors.{r['corpus']}"] = dg.MetadataValue.int(r["index_vectors"])
    columns = ("corpus", "index_vectors", "baseline_vectors", "current_vectors", "centroid_shift", "mmd", "verdict")
    metadata["scores"] = table_metadata(rows, columns)
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    # the day and the day before it
    deps=[dg.AssetDep(SCORED_EVIDENCE, partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1))],
    automation_condition=ON_INPUTS,
    kinds={"duckdb", "parquet", "scipy"},
    partitions_def=days,
    pool=CATALOG_WRITERS,
)
def scorer_drift(context: dg.AssetExecutionContext, lake: LakeResource, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """The day's `scored_evidence` scores against the previous day's: KS, Wasserstein distance and mean
    shift, on seeded samples. One row per day in the `scorer_drift` dataset (`no_data` while
    `scored_evidence` does not exist)."""
    day = context.partition_key
    settings = lake.settings()
    handle = lake.open()
    with duckdb.get_connection() as conn:
        row = score_scorer(
            conn,
            day,
            lake=handle,
            max_sample=settings.drift_max_sample,
            min_rows=settings.drift_min_rows,
            limits=scorer_limits(settings),
        )
        result = write_scores(conn, SCORER_DRIFT, day, [row], lake=handle)
    if row["verdict"] == Verdict.NO_DATA:
        context.log.warning("dataset %r is not in the catalog yet: nothing to score", SCORED_EVIDENCE)
    metadata = _summary(handle.storage, result, [row])
    metadata["previous_day"] = dg.MetadataValue.text(row["previous_day"])
    metadata.update(
        _single_row(
            row,
            ("baseline_rows", "current_rows"),
            ("ks_statistic", "ks_pvalue", "wasserstein", "mean_shift", "baseline_mean", "current_mean"),
        )
    )
    columns = ("day", "previous_day", "baseline_rows", "current_rows", "mean_shift", "ks_statistic", "wasserstein")
    metadata["scores"] = table_metadata([row], (*columns, "verdict"))
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    deps=[dg.AssetKey("playbook_log")],
    kinds={"jsonl", "parquet", "scipy"},
    partitions_def=days,
    pool=CATALOG_WRITERS,
)
def playbook_drift(
    context: dg.AssetExecutionContext, lake: LakeResource, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    """Endorsements recorded on the day against all recorded before it: Jensen-Shannon distance between
    the per-worker endorsement counts, and the share of the day's endorsed workers never endorsed
    before. One row per day in the `playbook_drift` dataset."""
    day = context.partition_key
    settings = lake.settings()
    replay = PlaybookLog(settings.playbook_log_path).replay()
    if replay.skipped_lines:
        context.log.warning("%d unreadable lines in the playbook log were skipped", replay.skipped_lines)
    row = score_playbooks(replay.records, day, min_rows=settings.drift_min_rows, limits=playbook_limits(settings))
    handle = lake.open()
    with duckdb.get_connection() as conn:
        result = write_scores(conn, PLAYBOOK_DRIFT, day, [row], lake=handle)
    metadata = _summary(handle.storage, result, [row])
    counts = (
        "baseline_records",
        "current_records",
        "baseline_endorsements",
        "current_endorsements",
        "baseline_workers",
        "current_workers",
        "new_workers",
    )
    metadata.update(_single_row(row, counts, ("js_distance", "new_worker_share")))
    metadata["skipped_lines"] = dg.MetadataValue.int(replay.skipped_lines)
    columns = ("day", "baseline_endorsements", "current_endorsements", "new_workers", "new_worker_share")
    metadata["scores"] = table_metadata([row], (*columns, "js_distance", "verdict"))
    return dg.MaterializeResult(metadata=metadata)
