import dagster as dg

from lakehouse_assets.defs.days import days, settle_yesterday

# The drifts whose inputs are not daily (the roster, its index, the playbook log); scorer_drift follows the
# day's scored evidence on its own (ON_INPUTS).
drift_job = dg.define_asset_job(
    "drift_daily", selection=["dataset_drift", "embedding_drift", "playbook_drift"], partitions_def=days
)
drift_schedule = settle_yesterday(drift_job, "30 0 * * *", "At 00:30 UTC, score the drift of the day that ended.")
