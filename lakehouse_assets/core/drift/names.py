"""The drift datasets' names (and the evidence dataset the scorer drift reads)."""

DATASET_DRIFT = "dataset_drift"
EMBEDDING_DRIFT = "embedding_drift"
EMBEDDING_BASELINE = "embedding_baseline"
SCORER_DRIFT = "scorer_drift"
PLAYBOOK_DRIFT = "playbook_drift"
SCORED_EVIDENCE = "scored_evidence"
