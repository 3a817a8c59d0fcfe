from datetime import timedelta

import dagster as dg

from lakehouse_assets.defs.validation.partitions import session_days

iterate_sessions_job = dg.define_asset_job(
    "iterate_sessions_daily", selection=["iterate_sessions"], partitions_def=session_days
)


@dg.schedule(cron_schedule="30 0 * * *", job=iterate_sessions_job, execution_timezone="UTC")
def iterate_sessions_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Just after midnight UTC, settle the day that ended."""
    day = (context.scheduled_execution_time - timedelta(days=1)).date().isoformat()
    return dg.RunRequest(run_key=day, partition_key=day)
