from datetime import timedelta

import dagster as dg

from lakehouse_assets.defs.drift.partitions import drift_days

drift_job = dg.define_asset_job(
    "drift_daily",
    selection=["dataset_drift", "embedding_drift", "scorer_drift", "playbook_drift"],
    partitions_def=drift_days,
)


@dg.schedule(cron_schedule="0 1 * * *", job=drift_job, execution_timezone="UTC")
def drift_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """At 01:00 UTC, score the day that ended (after the 00:30 sessions run has settled it)."""
    day = (context.scheduled_execution_time - timedelta(days=1)).date().isoformat()
    return dg.RunRequest(run_key=day, partition_key=day)
