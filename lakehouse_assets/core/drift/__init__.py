"""Drift: dataset, embedding, scorer and playbook drift, scored daily and stored as tables."""
