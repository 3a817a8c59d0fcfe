"""The four daily drift assets, materialized in process against a throwaway lake: scores land in the
catalog a day at a time (idempotently), show up as metadata, and their warn-severity checks fail on a
real shift and pass without one."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import dagster as dg
import duckdb
import numpy as np
import pyarrow as pa
import pytest

from lakehouse_assets.core.ingest.csv import IngestLimits, ingest_csv
from lakehouse_assets.core.lake.catalog import Catalog
from lakehouse_assets.core.lake.derived import register_table
from lakehouse_assets.core.lake.handle import Lake
from lakehouse_assets.core.lake.storage import open_storage
from lakehouse_assets.core.memory.playbooks import PlaybookLog, PlaybookRecord
from lakehouse_assets.core.settings import LakehouseSettings
from lakehouse_assets.core.vectors.types import IndexSpec
from lakehouse_assets.definitions import build_definitions
from lakehouse_assets.resources import VectorStoreResource


def materialize(
    settings: LakehouseSettings, instance: dg.DagsterInstance, name: str, day: str
) -> dg.ExecuteInJobResult:
    defs = build_definitions(settings)
    return dg.materialize(
        [defs.get_assets_def(name), *defs.asset_checks],
        partition_key=day,
        instance=instance,
        resources=defs.resources,
        selection=dg.AssetSelection.assets(name),
        raise_on_error=False,
    )


def metadata(result: dg.ExecuteInJobResult, name: str) -> dict:
    [mat] = result.asset_materializations_for_node(name)
    return {k: v.value for k, v in mat.metadata.items()}


def check(result: dg.ExecuteInJobResult) -> dg.AssetCheckEvaluation:
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    return evaluation


def stored(settings: LakehouseSettings, name: str, sql: str) -> list[tuple]:
    conn = duckdb.connect()
    Lake.open(settings).mount_live(conn, name)
    return conn.execute(sql).fetchall()


# -- dataset_drift ------------------------------------------------------------------------------


def workers_csv(*, shifted: bool, rows: int = 80) -> bytes:
    """The same workers twice; the shifted version pays more and hires other roles, nothing else moves."""
    rng = np.random.default_rng(7)
    roles = rng.choice(["welder", "cook", "driver"], size=rows, p=[0.5, 0.3, 0.2])
    states = rng.choice(["OH", "IL", "TX"], size=rows)
    years = rng.integers(0, 20, size=rows)
    rates = rng.normal(25.0, 3.0, size=rows)
    if shifted:
        roles = np.where(rng.random(rows) < 0.7, "driver", roles)
        rates = rates + 8.0
    lines = ["worker_id,role,state,years_experience,hourly_rate,resume_text"]
    lines += [
        f"{i + 1},{roles[i]},{states[i]},{years[i]},{rates[i]:.2f},Worker {i + 1} did {rng.integers(1e6)} things"
        for i in range(rows)
    ]
    return "\n".join(lines).encode()


def ingest_workers(settings: LakehouseSettings, csv: bytes) -> None:
    ingest_csv(io.BytesIO(csv), "workers", lake=Lake.open(settings), limits=IngestLimits())


def test_dataset_drift_scores_each_column_against_the_first_version(settings, instance):
    ingest_workers(settings, workers_csv(shifted=False))
    only_one = materialize(settings, instance, "dataset_drift", "2026-03-01")
    assert only_one.success and check(only_one).passed
    md = metadata(only_one, "dataset_drift")
    assert (md["baseline_version"], md["current_version"], md["drifted"]) == (1, 1, 0)
    assert md["psi.hourly_rate"] == 0.0 and md["js_distance.role"] == 0.0

    ingest_workers(settings, workers_csv(shifted=True))
    shifted = materialize(settings, instance, "dataset_drift", "2026-03-02")
    assert shifted.success  # a warning, not a failed run
    md = metadata(shifted, "dataset_drift")
    assert (md["baseline_version"], md["current_version"], md["new_version"]) == (1, 2, True)
    assert md["psi.hourly_rate"] > 0.2 and md["ks_statistic.hourly_rate"] > 0.2 and md["wasserstein.hourly_rate"] > 5
    assert md["js_distance.role"] > 0.1
    assert md["psi.years_experience"] == 0.0 and md["js_distance.state"] == 0.0
    assert md["drifted"] == 2 and md["columns_scored"] == 4
    assert (
        "resume_text (identifies rows)" in md["skipped_columns"]
        and "worker_id (identifies rows)" in md["skipped_columns"]
    )
    scores = {r.data["column_name"]: r.data for r in md["scores"].records}  # a table the UI shows, sortable
    assert (scores["hourly_rate"]["kind"], scores["hourly_rate"]["baseline_rows"]) == ("numeric", 80)
    assert scores["hourly_rate"]["verdict"] == "drift" and scores["state"]["verdict"] == "stable"
    evaluation = check(shifted)
    assert not evaluation.passed
    assert evaluation.metadata["over_threshold"].value == 2
    assert "hourly_rate (psi" in evaluation.metadata["offending"].value

    again = materialize(settings, instance, "dataset_drift", "2026-03-02")
    assert metadata(again, "dataset_drift")["new_version"] is False
    assert stored(
        settings, "dataset_drift", "SELECT day, column_name, verdict, baseline_rows FROM dataset_drift ORDER BY ALL"
    ) == [
        ("2026-03-01", "hourly_rate", "stable", 80),
        ("2026-03-01", "role", "stable", 80),
        ("2026-03-01", "state", "stable", 80),
        ("2026-03-01", "years_experience", "stable", 80),
        ("2026-03-02", "hourly_rate", "drift", 80),
        ("2026-03-02", "role", "drift", 80),
        ("2026-03-02", "state", "stable", 80),
        ("2026-03-02", "years_experience", "stable", 80),
    ]


def test_dataset_drift_with_too_few_rows_warns_about_nothing(settings, instance):
    ingest_workers(settings, workers_csv(shifted=False, rows=12))
    ingest_workers(settings, workers_csv(shifted=True, rows=12))
    result = materialize(settings, instance, "dataset_drift", "2026-03-02")
    assert result.success and check(result).passed
    # all six columns: with 12 rows, not even worker_id and resume_text can be told to identify rows
    assert metadata(result, "dataset_drift")["too_few_rows"] == 6
    assert check(result).metadata["unscored"].value == 6


# -- embedding_drift ----------------------------------------------------------------------------


def synthetic_vectors(seed: int, n: int = 120, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    center = np.zeros(384)
    center[:8] = 3.0
    center[8:16] = 3.0 * shift
    v = center + rng.normal(0.0, 1.0, (n, 384))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_embedding_drift_stores_a_baseline_then_compares_with_it(settings, instance):
    store = VectorStoreResource.from_settings(settings).get()
    store.create_index(IndexSpec("corpus_workers", model="synthetic", dimension=384))
    ids = [f"worker-{i:03d}" for i in range(120)]
    store.upsert("corpus_workers", model="synthetic", ids=ids, embeddings=synthetic_vectors(1))

    first = materialize(settings, instance, "embedding_drift", "2026-03-01")
    assert first.success and check(first).passed
    md = metadata(first, "embedding_drift")
    assert md["baselines_created"] == "workers" and md["no_index"] == 1
    assert md["centroid_shift.workers"] == pytest.approx(0.0, abs=1e-6) and md["mmd.workers"] == 0.0
    assert md["vectors.workers"] == 120 and md["vectors.playbooks"] == 0
    assert stored(
        settings, "embedding_baseline", "SELECT corpus, count(*), max(len(vector)) FROM embedding_baseline GROUP BY ALL"
    ) == [("workers", 120, 384)]

    store.upsert("corpus_workers", model="synthetic", ids=ids, embeddings=synthetic_vectors(2, shift=1.0))
    moved = materialize(settings, instance, "embedding_drift", "2026-03-02")
    md = metadata(moved, "embedding_drift")
    assert md["baselines_created"] == "none"
    assert md["centroid_shift.workers"] > 0.05 and md["mmd.workers"] > 0.05 and md["drifted"] == 1
    evaluation = check(moved)
    assert not evaluation.passed and evaluation.metadata["offending"].value.startswith("workers (centroid_shift")

    again = materialize(settings, instance, "embedding_drift", "2026-03-02")
    assert metadata(again, "embedding_drift")["new_version"] is False
    assert Catalog(open_storage(settings)).get("embedding_baseline").version == 1
    assert stored(settings, "embedding_drift", "SELECT day, corpus, verdict FROM embedding_drift ORDER BY ALL") == [
        ("2026-03-01", "playbooks", "no_index"),
        ("2026-03-01", "workers", "stable"),
        ("2026-03-02", "playbooks", "no_index"),
        ("2026-03-02", "workers", "drift"),
    ]

    # A corpus indexed later gets its own baseline; the others' stay as they were.
    store.create_index(IndexSpec("corpus_playbooks", model="synthetic", dimension=384))
    store.upsert(
        "corpus_playbooks", model="synthetic", ids=[f"p{i}" for i in range(40)], embeddings=synthetic_vectors(3, n=40)
    )
    later = metadata(materialize(settings, instance, "embedding_drift", "2026-03-03"), "embedding_drift")
    assert later["baselines_created"] == "playbooks" and later["drifted"] == 1 and later["mmd.playbooks"] == 0.0
    assert stored(
        settings, "embedding_baseline", "SELECT corpus, count(*) FROM embedding_baseline GROUP BY ALL ORDER BY ALL"
    ) == [("playbooks", 40), ("workers", 120)]


# -- scorer_drift -------------------------------------------------------------------------------


def register_scores(settings: LakehouseSettings, days: dict[str, np.ndarray]) -> None:
    rows = [
        {"day": day, "score": float(s), "label": "accepted" if s > 0.5 else "rejected"}
        for day, scores in days.items()
        for s in scores
    ]
    table = pa.Table.from_pylist(
        rows, schema=pa.schema([("day", pa.string()), ("score", pa.float64()), ("label", pa.string())])
    )
    register_table(duckdb.connect(), "scored_evidence", table, lake=Lake.open(settings))


def test_scorer_drift_compares_each_day_with_the_day_before(settings, instance):
    absent = materialize(settings, instance, "scorer_drift", "2026-03-02")
    assert absent.success and check(absent).passed
    assert metadata(absent, "scorer_drift")["verdict"] == "no_data"

    rng = np.random.default_rng(3)
    register_scores(
        settings,
        {
            "2026-03-01": rng.uniform(0.6, 0.9, 60),
            "2026-03-02": rng.uniform(0.6, 0.9, 50),
            "2026-03-03": rng.uniform(0.3, 0.6, 40),
        },
    )
    stable = materialize(settings, instance, "scorer_drift", "2026-03-02")
    md = metadata(stable, "scorer_drift")
    assert (md["verdict"], md["baseline_rows"], md["current_rows"]) == ("stable", 60, 50)
    assert md["wasserstein"] < 0.1 and check(stable).passed

    shifted = materialize(settings, instance, "scorer_drift", "2026-03-03")
    md = metadata(shifted, "scorer_drift")
    assert md["verdict"] == "drift" and md["mean_shift"] == pytest.approx(-0.3, abs=0.06)
    assert md["ks_statistic"] > 0.8 and md["wasserstein"] > 0.2
    assert not check(shifted).passed

    first_day = materialize(settings, instance, "scorer_drift", "2026-03-01")
    assert metadata(first_day, "scorer_drift")["verdict"] == "too_few_rows" and check(first_day).passed
    assert stored(settings, "scorer_drift", "SELECT day, previous_day, verdict FROM scorer_drift ORDER BY day") == [
        ("2026-03-01", "2026-02-28", "too_few_rows"),
        ("2026-03-02", "2026-03-01", "stable"),
        ("2026-03-03", "2026-03-02", "drift"),
    ]


# -- playbook_drift -----------------------------------------------------------------------------


def test_playbook_drift_compares_the_days_endorsements_with_earlier_ones(settings, instance):
    def record(day: str, n: int, *ids: str) -> PlaybookRecord:
        return PlaybookRecord(query=f"forklift {day} {n}", endorsed_ids=ids, recorded_at=f"{day}T09:{n:02d}:00.000Z")

    PlaybookLog(settings.playbook_log_path).append(
        [record("2026-03-01", i, "w1", "w2", "w3") for i in range(12)]
        + [record("2026-03-02", i, "w1", "w2", "w3") for i in range(12)]
        + [record("2026-03-03", i, "w7", "w8", "w9") for i in range(12)]
    )
    stable = materialize(settings, instance, "playbook_drift", "2026-03-02")
    md = metadata(stable, "playbook_drift")
    assert (md["verdict"], md["baseline_endorsements"], md["current_endorsements"]) == ("stable", 36, 36)
    assert md["js_distance"] == pytest.approx(0.0, abs=1e-9) and md["new_worker_share"] == 0.0
    assert check(stable).passed

    moved = materialize(settings, instance, "playbook_drift", "2026-03-03")
    md = metadata(moved, "playbook_drift")
    assert (md["verdict"], md["new_workers"], md["new_worker_share"]) == ("drift", 3, 1.0)
    assert md["js_distance"] == pytest.approx(1.0)
    assert not check(moved).passed

    again = materialize(settings, instance, "playbook_drift", "2026-03-03")
    assert metadata(again, "playbook_drift")["new_version"] is False


# -- schedule -----------------------------------------------------------------------------------


def test_the_schedule_scores_yesterday_and_the_scorer_drift_follows_the_scores():
    from lakehouse_assets.defs.drift.schedules import drift_job, drift_schedule

    defs = build_definitions(LakehouseSettings(_env_file=None))
    tick = datetime(2026, 11, 21, 0, 30, tzinfo=UTC)
    context = dg.build_schedule_context(scheduled_execution_time=tick, repository_def=defs.get_repository_def())
    [request] = drift_schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2026-11-20" and request.run_key == "2026-11-20"
    job = defs.get_job_def(drift_job.name)
    assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} == {
        "dataset_drift",
        "embedding_drift",
        "playbook_drift",
    }
    scorer = defs.resolve_asset_graph().get(dg.AssetKey("scorer_drift"))
    assert scorer.automation_condition is not None and scorer.automation_condition.get_label() == "on_inputs"
