import dagster as dg

from lakehouse_assets.defs.days import days, settle_yesterday

iterate_sessions_job = dg.define_asset_job(
    "iterate_sessions_daily", selection=["iterate_sessions"], partitions_def=days
)
iterate_sessions_schedule = settle_yesterday(
    iterate_sessions_job, "30 0 * * *", "At 00:30 UTC, settle the iterate sessions of the day that ended."
)
