"""The daily `iterate_sessions` asset: the day's session journal becomes rows of a catalog dataset,
idempotently, other days kept, with the grounding check guarding accepted fills."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from lakehouse_assets.core.lake.catalog import Catalog
from lakehouse_assets.core.lake.duck import mount, parquet_source
from lakehouse_assets.core.lake.storage import open_storage
from lakehouse_assets.core.llm.iterate import SCHEMA
from lakehouse_assets.core.memory.journal import DailyJournal
from lakehouse_assets.core.settings import LakehouseSettings
from lakehouse_assets.definitions import build_definitions


@pytest.fixture
def settings(tmp_path: Path) -> LakehouseSettings:
    return LakehouseSettings(home=tmp_path / "lake", _env_file=None)


def session(sid: str, *, kind="fill", accepted=True, attempts=1, grounded=True, model="qwen3.5:latest") -> dict:
    return {
        "schema": SCHEMA,
        "session_id": sid,
        "kind": kind,
        "model": model,
        "answered_by": model,
        "provider": "ollama",
        "accepted": accepted,
        "verdict": "accepted" if accepted else "max_iterations",
        "attempts": [{"n": i + 1, "verdict": "rejected"} for i in range(attempts)],
        "prompt_tokens": 10 * attempts,
        "completion_tokens": 5 * attempts,
        "total_tokens": 15 * attempts,
        "latency_ms": 12.5,
        "grounded_in_roster": grounded if kind == "fill" else None,
        "started_at": f"{sid}-start",
        "finished_at": f"{sid}-end",
        "error": None,
    }


def materialize(settings: LakehouseSettings, instance: dg.DagsterInstance, day: str) -> dg.ExecuteInJobResult:
    defs = build_definitions(settings)
    return dg.materialize(
        [defs.get_assets_def("iterate_sessions"), *defs.asset_checks],
        partition_key=day,
        instance=instance,
        resources=defs.resources,
        selection=dg.AssetSelection.assets("iterate_sessions"),
        raise_on_error=False,
    )


def rows(settings: LakehouseSettings, sql: str) -> list[tuple]:
    lake = open_storage(settings)
    manifest = Catalog(lake).get("iterate_sessions")
    conn = duckdb.connect()
    mount(conn, "iterate_sessions", parquet_source(lake, manifest.data_files))
    return conn.execute(sql).fetchall()


def check_passed(result: dg.ExecuteInJobResult) -> bool:
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation.passed


def test_a_day_becomes_rows_idempotently_and_other_days_stay(settings, instance):
    journal = DailyJournal(settings.session_log_dir)
    journal.day("2026-11-20").append([session("a", attempts=1), session("b", attempts=3), session("c", accepted=False)])
    with journal.day("2026-11-20").path.open("a") as f:
        f.write('{"torn": \n')
    journal.day("2026-11-21").append([session("d", kind="sms", model="kimi/k2", grounded=None)])

    first = materialize(settings, instance, "2026-11-20")
    assert first.success and check_passed(first)
    [mat] = first.asset_materializations_for_node("iterate_sessions")
    assert mat.metadata["day_sessions"].value == 3 and mat.metadata["skipped_lines"].value == 1
    assert mat.metadata["first_shot_rate"].value == pytest.approx(1 / 3)
    per_model = {r.data["model"]: r.data for r in mat.metadata["per_model"].records}
    assert per_model["qwen3.5:latest"] == {
        "model": "qwen3.5:latest",
        "sessions": 3,
        "accepted": 2,
        "first_shot_share": 0.3333,
    }

    again = materialize(settings, instance, "2026-11-20")
    [mat2] = again.asset_materializations_for_node("iterate_sessions")
    assert mat2.metadata["new_version"].value is False and mat2.metadata["version"].value == 1

    assert materialize(settings, instance, "2026-11-21").success
    assert rows(settings, "SELECT day, session_id FROM iterate_sessions ORDER BY session_id") == [
        ("2026-11-20", "a"),
        ("2026-11-20", "b"),
        ("2026-11-20", "c"),
        ("2026-11-21", "d"),
    ]
    # first-shot success rate per model: one SQL query away
    assert rows(
        settings,
        "SELECT model, avg(first_shot_accepted::INT) FROM iterate_sessions GROUP BY model ORDER BY model",
    ) == [("kimi/k2", 1.0), ("qwen3.5:latest", pytest.approx(1 / 3))]

    # New sessions later that day replace the day's rows, not duplicate them.
    journal.day("2026-11-20").append([session("e")])
    assert materialize(settings, instance, "2026-11-20").success
    assert rows(settings, "SELECT day, count(*) FROM iterate_sessions GROUP BY day ORDER BY day") == [
        ("2026-11-20", 4),
        ("2026-11-21", 1),
    ]


def test_an_accepted_fill_not_grounded_in_the_roster_fails_the_check(settings, instance):
    DailyJournal(settings.session_log_dir).day("2026-11-19").append(
        [session("good"), session("bypassed", grounded=False), session("rejected", accepted=False, grounded=False)]
    )
    result = materialize(settings, instance, "2026-11-19")
    [evaluation] = result.get_asset_check_evaluations()
    assert not evaluation.passed
    assert evaluation.metadata["session_ids"].value == "bypassed"
    assert evaluation.metadata["ungrounded_accepted_fills"].value == 1


def test_an_empty_day_is_an_empty_partition(settings, instance):
    result = materialize(settings, instance, "2026-11-18")
    assert result.success and check_passed(result)
    assert rows(settings, "SELECT count(*) FROM iterate_sessions") == [(0,)]


def test_the_schedule_settles_yesterday(settings):
    from datetime import UTC, datetime

    from lakehouse_assets.defs.sessions.schedules import iterate_sessions_schedule

    repository = build_definitions(settings).get_repository_def()
    tick = datetime(2026, 11, 21, 0, 30, tzinfo=UTC)
    context = dg.build_schedule_context(scheduled_execution_time=tick, repository_def=repository)
    [request] = iterate_sessions_schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2026-11-20"
