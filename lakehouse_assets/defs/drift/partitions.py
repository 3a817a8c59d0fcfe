from lakehouse_assets.defs.validation.partitions import session_days

# Drift is scored per UTC day, on the same day partitions as the iterate sessions.
drift_days = session_days

__all__ = ["drift_days"]
