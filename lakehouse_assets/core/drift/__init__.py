"""Drift: how far today's data, vectors, scorer and endorsements moved from a reference.

Four daily score tables, each a catalog dataset named for its asset and written a day at a time
(`replace_day`), so re-scoring a day replaces its rows and the same inputs give the same Parquet bytes:

- `dataset_drift`: per column of a dataset, its live version against a baseline version: PSI,
  Kolmogorov-Smirnov and Wasserstein distance for numbers; Jensen-Shannon distance and chi-squared for
  categories.
- `embedding_drift`: per corpus, a sample of its index against a baseline sample stored once as the
  `embedding_baseline` dataset: cosine shift of the centroid and RBF-kernel MMD.
- `scorer_drift`: the day's `scored_evidence` scores against the previous day's: KS, Wasserstein, mean shift.
- `playbook_drift`: the day's endorsements against all earlier ones: Jensen-Shannon distance and the
  share of endorsed workers never endorsed before.

Every row carries its sample sizes and a verdict: `too_few_rows` when either side is smaller than
the minimum (the scores are still shown, but they are noise), `drift` when a score is over its
threshold, else `stable` (plus `no_index` / `no_data` when there is nothing to score). Statistics are
SciPy's; nothing here imports Dagster.
"""
