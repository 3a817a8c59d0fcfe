"""Daily assets downstream of a day's evidence run on their inputs, not on a later cron: the day's scores
once its evidence is in, the export and the scorer drift once its scores are (and the day before's exist)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from lakehouse_assets.core.settings import LakehouseSettings
from lakehouse_assets.definitions import build_definitions

DOWNSTREAM = ("scored_evidence", "sft_export", "scorer_drift")


def requested(defs: dg.Definitions, instance: dg.DagsterInstance, cursor=None):
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
    asked = {
        (key.to_user_string(), partition)
        for key in (dg.AssetKey(n) for n in DOWNSTREAM)
        for partition in result.get_requested_partitions(key)
    }
    return asked, result.cursor


def done(instance: dg.DagsterInstance, asset: str, *days: str) -> None:
    for day in days:
        instance.report_runless_asset_event(dg.AssetMaterialization(asset, partition=day))


def test_each_day_follows_its_inputs(tmp_path: Path) -> None:
    defs = build_definitions(LakehouseSettings(home=tmp_path / "lake", _env_file=None))
    with dg.instance_for_test() as instance:
        asked, cursor = requested(defs, instance)
        assert asked == set()  # nothing settled yet: nothing to follow

        done(instance, "evidence_records", "2026-11-19", "2026-11-20")
        asked, cursor = requested(defs, instance, cursor)
        # The whole chain at once (one run, in order); the 19th's scorer drift needs the 18th's scores, which
        # do not exist, and no other day's evidence moved.
        assert asked == {
            ("scored_evidence", "2026-11-19"),
            ("scored_evidence", "2026-11-20"),
            ("sft_export", "2026-11-19"),
            ("sft_export", "2026-11-20"),
            ("scorer_drift", "2026-11-20"),
        }
        asked, cursor = requested(defs, instance, cursor)
        assert asked == set()  # requested once, not again on every tick

        # The run did its work: every requested partition materialized, in order.
        done(instance, "scored_evidence", "2026-11-19", "2026-11-20")
        done(instance, "sft_export", "2026-11-19", "2026-11-20")
        done(instance, "scorer_drift", "2026-11-20")
        asked, cursor = requested(defs, instance, cursor)
        assert asked == set()

        done(instance, "scored_evidence", "2026-11-20")  # the 20th scored again (a backfill)
        asked, cursor = requested(defs, instance, cursor)
        # Its export and drift follow; the 21st's drift also reads the 20th, but has no scores of its own yet.
        assert asked == {("sft_export", "2026-11-20"), ("scorer_drift", "2026-11-20")}
