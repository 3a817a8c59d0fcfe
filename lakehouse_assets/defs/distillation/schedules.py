from datetime import timedelta

import dagster as dg

from lakehouse_assets.defs.validation.partitions import session_days

distillation_job = dg.define_asset_job(
    "distillation_daily", selection=["evidence_records", "scored_evidence", "sft_export"], partitions_def=session_days
)


@dg.schedule(cron_schedule="45 0 * * *", job=distillation_job, execution_timezone="UTC")
def distillation_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Just after midnight UTC, distill the day that ended: evidence, scores, then the export."""
    day = (context.scheduled_execution_time - timedelta(days=1)).date().isoformat()
    return dg.RunRequest(run_key=day, partition_key=day)
