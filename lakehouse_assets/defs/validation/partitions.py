import dagster as dg

# One partition per UTC day of iterate sessions. end_offset=1 makes today's (still growing) day
# materializable too; the schedule settles each day once it is over.
session_days = dg.DailyPartitionsDefinition(start_date="2026-01-01", end_offset=1)
