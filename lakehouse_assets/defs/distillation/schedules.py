import dagster as dg

from lakehouse_assets.defs.days import days, settle_yesterday

# The day's evidence, from its journals; scores and the export follow it on their own (ON_INPUTS).
distillation_job = dg.define_asset_job("distillation_daily", selection=["evidence_records"], partitions_def=days)
distillation_schedule = settle_yesterday(
    distillation_job, "30 0 * * *", "At 00:30 UTC, gather the evidence of the day that ended."
)
