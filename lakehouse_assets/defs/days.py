"""The day partitions every daily asset shares, the one schedule shape that settles the day that ended, and
the condition downstream daily assets run on: their inputs, not a later cron."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import dagster as dg

# One partition per UTC day. end_offset=1 makes today's (still growing) day materializable too; the
# schedules settle each day once it is over.
days = dg.DailyPartitionsDefinition(start_date="2026-01-01", end_offset=1)

# A day's partition runs once a partition it reads was updated, every one it reads exists and none is still
# running: scored evidence after that day's evidence, the export and the scorer drift after that day's scores
# (the scorer drift also needs the day before's, which it compares against); a chain whose head is requested
# is requested with it, so one run settles the day in order. Not eager(): that looks only at
# the latest partition, which is today's while the day before is the one being settled.
ON_INPUTS = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()  # once per update, not on every tick
    & ~dg.AutomationCondition.any_deps_missing()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("on_inputs")


def settle_yesterday(job: Any, cron: str, description: str) -> dg.ScheduleDefinition:
    """A schedule that runs `job` (an asset job over `days`) for the UTC day that ended before each tick of `cron`."""

    def previous_day(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        day = (context.scheduled_execution_time - timedelta(days=1)).date().isoformat()
        return dg.RunRequest(run_key=day, partition_key=day)

    return dg.ScheduleDefinition(
        name=f"{job.name.removesuffix('_daily')}_schedule",
        cron_schedule=cron,
        job=job,
        execution_timezone="UTC",
        description=description,
        execution_fn=previous_day,
    )
