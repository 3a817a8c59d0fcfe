"""Drift scores: how far today's data, vectors, scorer and endorsements moved from a reference.

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

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.spatial.distance import cdist, cosine, jensenshannon
from scipy.stats import chi2_contingency, ks_2samp, wasserstein_distance

from lakehouse_assets.core.ingest.csv import IngestResult
from lakehouse_assets.core.lake.catalog import Catalog, DatasetVersion, Manifest
from lakehouse_assets.core.lake.derived import register_table, replace_day
from lakehouse_assets.core.lake.duck import mount, parquet_source, quote_ident
from lakehouse_assets.core.lake.storage import LakeStorage
from lakehouse_assets.core.memory.playbooks import PlaybookRecord
from lakehouse_assets.core.retrieval.corpora import CorpusSpec
from lakehouse_assets.core.settings import LakehouseSettings
from lakehouse_assets.core.vectors.store import IndexNotFound, VectorStore

SEED = 42  # every sample is drawn with this seed, so re-scoring a day gives the same numbers
PSI_BINS = 10
PSI_EPSILON = 1e-4  # stands in for an empty bin's share, so log(0) never happens
MAX_CATEGORIES = 200  # text columns with more distinct values are free text, not categories
ID_LIKE_SHARE = 0.9  # distinct values / rows above which a text or integer column identifies rows

STABLE, DRIFT, TOO_FEW_ROWS, NO_INDEX, NO_DATA, INCOMPARABLE = (
    "stable",
    "drift",
    "too_few_rows",
    "no_index",
    "no_data",
    "incomparable",
)
UNSCORED = (TOO_FEW_ROWS, NO_INDEX, NO_DATA, INCOMPARABLE)  # verdicts whose scores a check ignores

DATASET_DRIFT = "dataset_drift"
EMBEDDING_DRIFT = "embedding_drift"
EMBEDDING_BASELINE = "embedding_baseline"
SCORER_DRIFT = "scorer_drift"
PLAYBOOK_DRIFT = "playbook_drift"
SCORED_EVIDENCE = "scored_evidence"


class DriftError(ValueError):
    """The drift of something cannot be scored as configured (e.g. a baseline version that does not exist)."""


# -- statistics -------------------------------------------------------------------------------


def _finite(values: Iterable[float] | np.ndarray) -> np.ndarray:
    """A sorted float64 array without NaNs (sorted so sums do not depend on row order)."""
    a = np.asarray(values, dtype=np.float64).reshape(-1)
    return np.sort(a[~np.isnan(a)])


def psi(baseline: np.ndarray, current: np.ndarray, *, bins: int = PSI_BINS, epsilon: float = PSI_EPSILON) -> float:
    """Population stability index of `current` against `baseline`, over `bins` bins cut at the baseline's
    quantiles (right-closed; tied quantiles merge bins). Empty bins count as `epsilon`. NaN if a side is empty."""
    b, c = _finite(baseline), _finite(current)
    if not len(b) or not len(c):
        return math.nan
    edges = np.unique(np.quantile(b, np.linspace(0, 1, bins + 1)[1:-1]))
    b_share = np.bincount(np.searchsorted(edges, b, side="left"), minlength=len(edges) + 1) / len(b)
    c_share = np.bincount(np.searchsorted(edges, c, side="left"), minlength=len(edges) + 1) / len(c)
    b_share, c_share = np.maximum(b_share, epsilon), np.maximum(c_share, epsilon)
    return float(np.sum((c_share - b_share) * np.log(c_share / b_share)))


@dataclass(frozen=True)
class NumericScores:
    psi: float
    ks_statistic: float
    ks_pvalue: float
    wasserstein: float
    baseline_mean: float
    current_mean: float

    @property
    def mean_shift(self) -> float:
        return self.current_mean - self.baseline_mean


def numeric_scores(baseline: Iterable[float] | np.ndarray, current: Iterable[float] | np.ndarray) -> NumericScores:
    """PSI, two-sample KS (statistic, p-value), Wasserstein distance and means; NaN where a side is empty."""
    b, c = _finite(baseline), _finite(current)
    if not len(b) or not len(c):
        nan = math.nan
        return NumericScores(nan, nan, nan, nan, float(b.mean()) if len(b) else nan, float(c.mean()) if len(c) else nan)
    ks = ks_2samp(b, c)
    return NumericScores(
        psi=psi(b, c),
        ks_statistic=float(ks.statistic),
        ks_pvalue=float(ks.pvalue),
        wasserstein=float(wasserstein_distance(b, c)),
        baseline_mean=float(b.mean()),
        current_mean=float(c.mean()),
    )


@dataclass(frozen=True)
class CategoricalScores:
    js_distance: float
    chi2_statistic: float
    chi2_pvalue: float
    categories: int


def categorical_scores(baseline: Mapping[str, int], current: Mapping[str, int]) -> CategoricalScores:
    """Jensen-Shannon distance (base 2, 0..1) and chi-squared test of homogeneity between two category
    counts, over the union of categories. NaN where a side is empty; a single category is no shift."""
    categories = sorted(set(baseline) | set(current))
    b = np.array([baseline.get(k, 0) for k in categories], dtype=np.float64)
    c = np.array([current.get(k, 0) for k in categories], dtype=np.float64)
    if not b.sum() or not c.sum():
        return CategoricalScores(math.nan, math.nan, math.nan, len(categories))
    js = float(jensenshannon(b, c, base=2))
    if len(categories) < 2:
        return CategoricalScores(js, 0.0, 1.0, len(categories))
    chi2 = chi2_contingency(np.vstack([b, c]), correction=False)
    return CategoricalScores(js, float(chi2.statistic), float(chi2.pvalue), len(categories))


def centroid_shift(baseline: np.ndarray, current: np.ndarray) -> float:
    """Cosine distance between the mean vectors of two samples (0 = same direction); NaN if a mean is zero."""
    mb, mc = np.asarray(baseline, dtype=np.float64).mean(axis=0), np.asarray(current, dtype=np.float64).mean(axis=0)
    if not np.any(mb) or not np.any(mc):
        return math.nan
    return float(cosine(mb, mc))


def mmd_rbf(baseline: np.ndarray, current: np.ndarray) -> float:
    """Squared maximum mean discrepancy (biased estimator) under an RBF kernel exp(-d²/2σ²) whose σ is the
    median pairwise distance of the pooled sample (the median heuristic). 0 for identical samples;
    O(1/n) for two samples of one distribution. NaN if a side is empty."""
    x, y = np.asarray(baseline, dtype=np.float64), np.asarray(current, dtype=np.float64)
    if not len(x) or not len(y):
        return math.nan
    pooled = np.vstack([x, y])
    d2 = cdist(pooled, pooled, "sqeuclidean")
    pairs = d2[np.triu_indices(len(pooled), k=1)]
    sigma2 = float(np.median(pairs)) if len(pairs) else 0.0
    if sigma2 <= 0.0:
        return 0.0
    k = np.exp(-d2 / (2.0 * sigma2))
    n = len(x)
    value = k[:n, :n].mean() + k[n:, n:].mean() - 2.0 * k[:n, n:].mean()
    return float(max(value, 0.0))


def verdict(
    baseline_rows: int,
    current_rows: int,
    scores: Mapping[str, float | None],
    limits: Mapping[str, float],
    min_rows: int,
) -> str:
    """`too_few_rows` if either sample is smaller than `min_rows`, `drift` if a score is over its limit,
    else `stable`."""
    if min(baseline_rows, current_rows) < min_rows:
        return TOO_FEW_ROWS
    return DRIFT if over_limits(scores, limits) else STABLE


def over_limits(scores: Mapping[str, Any], limits: Mapping[str, float]) -> list[str]:
    """The score names whose value is over its limit (missing and NaN scores never are)."""
    out = []
    for name, limit in limits.items():
        value = scores.get(name)
        if value is not None and not (isinstance(value, float) and math.isnan(value)) and value > limit:
            out.append(name)
    return out


# -- thresholds -------------------------------------------------------------------------------


def dataset_limits(settings: LakehouseSettings) -> dict[str, float]:
    return {
        "psi": settings.drift_psi_threshold,
        "ks_statistic": settings.drift_ks_threshold,
        "js_distance": settings.drift_js_threshold,
    }


def embedding_limits(settings: LakehouseSettings) -> dict[str, float]:
    return {"centroid_shift": settings.drift_centroid_threshold, "mmd": settings.drift_mmd_threshold}


def scorer_limits(settings: LakehouseSettings) -> dict[str, float]:
    return {"wasserstein": settings.drift_scorer_threshold}


def playbook_limits(settings: LakehouseSettings) -> dict[str, float]:
    return {"js_distance": settings.drift_playbook_threshold}


def offending_rows(rows: Iterable[Mapping[str, Any]], limits: Mapping[str, float]) -> list[Mapping[str, Any]]:
    """Stored score rows over a limit, ignoring rows whose verdict says they were not scored for real."""
    return [r for r in rows if r.get("verdict") not in UNSCORED and over_limits(r, limits)]


# -- shared plumbing --------------------------------------------------------------------------


def _nan_to_none(row: dict[str, Any]) -> dict[str, Any]:
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}


@contextmanager
def _single_thread(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """DuckDB's seeded sampling repeats only on one thread."""
    threads = conn.sql("SELECT current_setting('threads')").fetchall()[0][0]
    conn.execute("SET threads = 1")
    try:
        yield
    finally:
        conn.execute(f"SET threads = {int(threads)}")


def sample_rows(
    conn: duckdb.DuckDBPyConnection,
    relation: str,
    columns: Sequence[str],
    max_rows: int,
    *,
    where: str = "",
    params: Sequence[Any] = (),
) -> pa.Table:
    """`columns` of `relation` (a view name), all rows or, above `max_rows`, a seeded reservoir sample of
    them: the same data always gives the same sample."""
    cols = ", ".join(quote_ident(c) for c in columns)
    source = f"SELECT {cols} FROM {quote_ident(relation)}" + (f" WHERE {where}" if where else "")
    total = conn.sql(f"SELECT count(*) FROM ({source})", params=list(params)).fetchall()[0][0]
    if total <= max_rows:
        return conn.sql(source, params=list(params)).to_arrow_table()
    with _single_thread(conn):
        return conn.sql(
            f"SELECT * FROM ({source}) USING SAMPLE reservoir({int(max_rows)} ROWS) REPEATABLE ({SEED})",
            params=list(params),
        ).to_arrow_table()


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], *, empty: str = "_no rows_") -> str:
    """Rows as a Markdown table; floats to 4 significant digits, nulls as an em dash."""

    def cell(v: Any) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "—"
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v).replace("|", "\\|")

    if not rows:
        return empty
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


# -- dataset drift ----------------------------------------------------------------------------

DATASET_DRIFT_SCHEMA = pa.schema(
    [
        ("day", pa.string()),
        ("dataset", pa.string()),
        ("column_name", pa.string()),
        ("column_type", pa.string()),
        ("kind", pa.string()),
        ("baseline_version", pa.int64()),
        ("current_version", pa.int64()),
        ("baseline_rows", pa.int64()),
        ("current_rows", pa.int64()),
        ("categories", pa.int64()),
        ("psi", pa.float64()),
        ("ks_statistic", pa.float64()),
        ("ks_pvalue", pa.float64()),
        ("wasserstein", pa.float64()),
        ("js_distance", pa.float64()),
        ("chi2_statistic", pa.float64()),
        ("chi2_pvalue", pa.float64()),
        ("verdict", pa.string()),
    ]
)

_INTEGER_TYPES = re.compile(r"^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|UHUGEINT)$")
_FLOAT_TYPES = re.compile(r"^(FLOAT|REAL|DOUBLE|DECIMAL\(\d+,\s*\d+\))$")
_CATEGORY_TYPES = ("VARCHAR", "BOOLEAN")


def column_kind(sql_type: str) -> str | None:
    """'integer', 'float' or 'categorical' for the column types drift is scored on; None for the rest."""
    t = sql_type.upper()
    if _INTEGER_TYPES.match(t):
        return "integer"
    if _FLOAT_TYPES.match(t):
        return "float"
    if t in _CATEGORY_TYPES:
        return "categorical"
    return None


@dataclass(frozen=True)
class DatasetDrift:
    dataset: str
    baseline_version: int
    current_version: int
    baseline_sample: int
    current_sample: int
    rows: list[dict[str, Any]]
    skipped: dict[str, str]  # column -> why it was not scored


def _version(manifest: Manifest, number: int) -> DatasetVersion:
    for v in manifest.versions:
        if v.version == number:
            return v
    have = ", ".join(str(v.version) for v in manifest.versions)
    raise DriftError(f"dataset {manifest.name!r} has no version {number} to compare with (versions: {have})")


def _category_counts(values: pa.ChunkedArray) -> Counter[str]:
    values = pc.drop_null(values)
    if pa.types.is_boolean(values.type):
        values = pc.cast(values, pa.string())
    counts = pc.value_counts(values)
    return Counter(
        {
            str(v): int(n)
            for v, n in zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True)
        }
    )


def _numbers(values: pa.ChunkedArray) -> np.ndarray:
    return _finite(pc.cast(pc.drop_null(values), pa.float64()).to_numpy())


def score_dataset(
    conn: duckdb.DuckDBPyConnection,
    day: str,
    dataset: str,
    *,
    lake: LakeStorage,
    catalog: Catalog,
    baseline_version: int,
    max_sample: int,
    min_rows: int,
    limits: Mapping[str, float],
    max_categories: int = MAX_CATEGORIES,
) -> DatasetDrift:
    """Per column of `dataset`, its live version against version `baseline_version`, each side a seeded
    sample of at most `max_sample` rows. Numeric columns get PSI, KS and Wasserstein; text and boolean
    columns with at most `max_categories` values get Jensen-Shannon and chi-squared. Columns that
    identify rows (nearly one distinct value per row), free text and other types are skipped."""
    date.fromisoformat(day)
    catalog.refresh()
    manifest = catalog.get(dataset)
    baseline, current = _version(manifest, baseline_version), manifest.current
    kinds = {c.name: column_kind(c.type) for c in manifest.schema}
    skipped = {c.name: f"type {c.type}" for c in manifest.schema if kinds[c.name] is None}
    columns = [c.name for c in manifest.schema if kinds[c.name] is not None]
    mount(conn, "__drift_baseline", parquet_source(lake, baseline.object_key))
    mount(conn, "__drift_current", parquet_source(lake, current.object_key))
    b_sample = sample_rows(conn, "__drift_baseline", columns, max_sample)
    c_sample = sample_rows(conn, "__drift_current", columns, max_sample)
    rows = []
    for col in manifest.schema:
        kind = kinds[col.name]
        if kind is None:
            continue
        row: dict[str, Any] = {
            "day": day,
            "dataset": dataset,
            "column_name": col.name,
            "column_type": col.type,
            "kind": "numeric" if kind != "categorical" else kind,
            "baseline_version": baseline.version,
            "current_version": current.version,
        }
        if kind != "categorical":
            b, c = _numbers(b_sample.column(col.name)), _numbers(c_sample.column(col.name))
            if kind == "integer" and _id_like(
                (len(np.unique(b)), len(b)), (len(np.unique(c)), len(c)), min_rows=min_rows
            ):
                skipped[col.name] = "identifies rows"
                continue
            s = numeric_scores(b, c)
            row.update(
                baseline_rows=len(b),
                current_rows=len(c),
                psi=s.psi,
                ks_statistic=s.ks_statistic,
                ks_pvalue=s.ks_pvalue,
                wasserstein=s.wasserstein,
            )
        else:
            b_counts = _category_counts(b_sample.column(col.name))
            c_counts = _category_counts(c_sample.column(col.name))
            n_b, n_c = b_counts.total(), c_counts.total()
            if _id_like((len(b_counts), n_b), (len(c_counts), n_c), min_rows=min_rows):
                skipped[col.name] = "identifies rows"
                continue
            distinct = len(set(b_counts) | set(c_counts))
            if distinct > max_categories:
                skipped[col.name] = f"free text ({distinct} distinct values)"
                continue
            s = categorical_scores(b_counts, c_counts)
            row.update(
                baseline_rows=n_b,
                current_rows=n_c,
                categories=s.categories,
                js_distance=s.js_distance,
                chi2_statistic=s.chi2_statistic,
                chi2_pvalue=s.chi2_pvalue,
            )
        row["verdict"] = verdict(row["baseline_rows"], row["current_rows"], row, limits, min_rows)
        rows.append(row)
    return DatasetDrift(
        dataset=dataset,
        baseline_version=baseline.version,
        current_version=current.version,
        baseline_sample=b_sample.num_rows,
        current_sample=c_sample.num_rows,
        rows=rows,
        skipped=skipped,
    )


def _id_like(*sides: tuple[int, int], min_rows: int) -> bool:
    """Nearly one distinct value per row on a side, given as (distinct values, values); judged only on
    samples big enough to tell."""
    return any(n >= min_rows and distinct >= ID_LIKE_SHARE * n for distinct, n in sides)


# -- embedding drift --------------------------------------------------------------------------

EMBEDDING_DRIFT_SCHEMA = pa.schema(
    [
        ("day", pa.string()),
        ("corpus", pa.string()),
        ("index", pa.string()),
        ("index_vectors", pa.int64()),
        ("dimension", pa.int64()),
        ("baseline_vectors", pa.int64()),
        ("current_vectors", pa.int64()),
        ("centroid_shift", pa.float64()),
        ("mmd", pa.float64()),
        ("verdict", pa.string()),
    ]
)

EMBEDDING_BASELINE_SCHEMA = pa.schema(
    [("corpus", pa.string()), ("id", pa.string()), ("vector", pa.list_(pa.float32()))]
)


@dataclass(frozen=True)
class VectorSample:
    ids: list[str]
    vectors: np.ndarray  # float32, one row per id
    index_vectors: int  # how many vectors the index holds


def sample_index(store: VectorStore, index: str, size: int, *, seed: int = SEED) -> VectorSample | None:
    """A seeded sample of at most `size` vectors of `index`, drawn from its ids in sorted order (the same
    ids always give the same sample), or None if the index does not exist."""
    try:
        store.get_index(index)
    except IndexNotFound:
        return None
    ids = sorted(store.ids(index))
    if len(ids) > size:
        pick = np.sort(np.random.default_rng(seed).choice(len(ids), size=size, replace=False))
        chosen = [ids[i] for i in pick]
    else:
        chosen = ids
    found = store.vectors(index, chosen)
    kept = [i for i in chosen if i in found]  # a vector deleted meanwhile is simply not in the sample
    vectors = np.vstack([found[i] for i in kept]) if kept else np.zeros((0, 0), dtype=np.float32)
    return VectorSample(kept, vectors, len(ids))


def read_baseline(
    conn: duckdb.DuckDBPyConnection, *, lake: LakeStorage, catalog: Catalog
) -> dict[str, tuple[list[str], np.ndarray]]:
    """corpus -> (ids, vectors) of the stored `embedding_baseline` dataset (empty if there is none)."""
    catalog.refresh()
    manifest = catalog.find(EMBEDDING_BASELINE)
    if manifest is None:
        return {}
    mount(conn, EMBEDDING_BASELINE, parquet_source(lake, manifest.object_key))
    table = conn.sql(f"SELECT * FROM {EMBEDDING_BASELINE} ORDER BY corpus, id").to_arrow_table()
    out: dict[str, tuple[list[str], np.ndarray]] = {}
    for corpus in sorted(set(table.column("corpus").to_pylist())):
        part = table.filter(pc.equal(table.column("corpus"), corpus))
        flat = part.column("vector").combine_chunks().flatten().to_numpy(zero_copy_only=False)
        out[corpus] = (part.column("id").to_pylist(), flat.astype(np.float32).reshape(part.num_rows, -1))
    return out


def baseline_table(baselines: Mapping[str, tuple[Sequence[str], np.ndarray]]) -> pa.Table:
    """corpus -> (ids, vectors) as rows of the `embedding_baseline` dataset, ordered by corpus and id."""
    parts = []
    for corpus, (ids, vectors) in baselines.items():
        vectors = np.asarray(vectors, dtype=np.float32)
        offsets = pa.array(np.arange(len(ids) + 1, dtype=np.int32) * vectors.shape[1], pa.int32())
        column = pa.ListArray.from_arrays(offsets, pa.array(vectors.reshape(-1), pa.float32()))
        parts.append(
            pa.Table.from_arrays(
                [pa.array([corpus] * len(ids)), pa.array(list(ids)), column], schema=EMBEDDING_BASELINE_SCHEMA
            )
        )
    table = pa.concat_tables(parts) if parts else EMBEDDING_BASELINE_SCHEMA.empty_table()
    return table.sort_by([("corpus", "ascending"), ("id", "ascending")])


@dataclass(frozen=True)
class EmbeddingDrift:
    rows: list[dict[str, Any]]
    baselines_created: list[str]  # corpora whose baseline this run stored


def score_embeddings(
    conn: duckdb.DuckDBPyConnection,
    day: str,
    corpora: Iterable[CorpusSpec],
    store: VectorStore,
    *,
    lake: LakeStorage,
    catalog: Catalog,
    scratch_dir: Path,
    sample_size: int,
    min_rows: int,
    limits: Mapping[str, float],
) -> EmbeddingDrift:
    """Per corpus, a seeded sample of its index against its stored baseline sample. A corpus without a
    baseline gets one now (this sample, once it has `min_rows` vectors), stored in the `embedding_baseline`
    dataset with every other corpus's baseline kept; it then scores 0 against itself."""
    date.fromisoformat(day)
    baselines = read_baseline(conn, lake=lake, catalog=catalog)
    new_baselines: dict[str, tuple[list[str], np.ndarray]] = {}
    rows = []
    for spec in sorted(corpora, key=lambda s: s.name):
        row: dict[str, Any] = {"day": day, "corpus": spec.name, "index": spec.index}
        sample = sample_index(store, spec.index, sample_size)
        if sample is None:
            rows.append({**row, "index_vectors": 0, "baseline_vectors": 0, "current_vectors": 0, "verdict": NO_INDEX})
            continue
        row.update(index_vectors=sample.index_vectors, current_vectors=len(sample.ids))
        if len(sample.ids):
            row["dimension"] = int(sample.vectors.shape[1])
        baseline = baselines.get(spec.name)
        if baseline is None:
            if len(sample.ids) < min_rows:
                rows.append({**row, "baseline_vectors": 0, "verdict": TOO_FEW_ROWS})
                continue
            baseline = new_baselines[spec.name] = (sample.ids, sample.vectors)
        b_ids, b_vectors = baseline
        row["baseline_vectors"] = len(b_ids)
        if len(sample.ids) and b_vectors.shape[1] != sample.vectors.shape[1]:
            rows.append({**row, "verdict": INCOMPARABLE})
            continue
        if len(sample.ids):
            row.update(centroid_shift=centroid_shift(b_vectors, sample.vectors), mmd=mmd_rbf(b_vectors, sample.vectors))
        row["verdict"] = verdict(len(b_ids), len(sample.ids), row, limits, min_rows)
        rows.append(row)
    if new_baselines:
        table = baseline_table({**baselines, **new_baselines})
        register_table(conn, EMBEDDING_BASELINE, table, lake=lake, catalog=catalog, scratch_dir=scratch_dir)
    return EmbeddingDrift(rows, sorted(new_baselines))


# -- scorer drift -----------------------------------------------------------------------------

SCORER_DRIFT_SCHEMA = pa.schema(
    [
        ("day", pa.string()),
        ("previous_day", pa.string()),
        ("baseline_rows", pa.int64()),
        ("current_rows", pa.int64()),
        ("baseline_mean", pa.float64()),
        ("current_mean", pa.float64()),
        ("mean_shift", pa.float64()),
        ("ks_statistic", pa.float64()),
        ("ks_pvalue", pa.float64()),
        ("wasserstein", pa.float64()),
        ("verdict", pa.string()),
    ]
)


def previous_day(day: str) -> str:
    return (date.fromisoformat(day) - timedelta(days=1)).isoformat()


def score_scorer(
    conn: duckdb.DuckDBPyConnection,
    day: str,
    *,
    lake: LakeStorage,
    catalog: Catalog,
    max_sample: int,
    min_rows: int,
    limits: Mapping[str, float],
) -> dict[str, Any]:
    """The day's `scored_evidence` scores against the previous day's (seeded samples of at most
    `max_sample` each); verdict `no_data` while the dataset does not exist."""
    before = previous_day(day)
    row: dict[str, Any] = {"day": day, "previous_day": before}
    catalog.refresh()
    manifest = catalog.find(SCORED_EVIDENCE)
    if manifest is None:
        return {**row, "baseline_rows": 0, "current_rows": 0, "verdict": NO_DATA}
    mount(conn, SCORED_EVIDENCE, parquet_source(lake, manifest.object_key))

    def scores(d: str) -> np.ndarray:
        where = "CAST(day AS VARCHAR) = ? AND score IS NOT NULL AND NOT isnan(score)"
        sample = sample_rows(conn, SCORED_EVIDENCE, ["score"], max_sample, where=where, params=[d])
        return _numbers(sample.column("score"))

    b, c = scores(before), scores(day)
    s = numeric_scores(b, c)
    row.update(
        baseline_rows=len(b),
        current_rows=len(c),
        baseline_mean=s.baseline_mean,
        current_mean=s.current_mean,
        mean_shift=s.mean_shift,
        ks_statistic=s.ks_statistic,
        ks_pvalue=s.ks_pvalue,
        wasserstein=s.wasserstein,
    )
    row["verdict"] = verdict(len(b), len(c), row, limits, min_rows)
    return row


# -- playbook drift ---------------------------------------------------------------------------

PLAYBOOK_DRIFT_SCHEMA = pa.schema(
    [
        ("day", pa.string()),
        ("baseline_records", pa.int64()),
        ("current_records", pa.int64()),
        ("baseline_endorsements", pa.int64()),
        ("current_endorsements", pa.int64()),
        ("baseline_workers", pa.int64()),
        ("current_workers", pa.int64()),
        ("new_workers", pa.int64()),
        ("new_worker_share", pa.float64()),
        ("js_distance", pa.float64()),
        ("verdict", pa.string()),
    ]
)


def recorded_day(recorded_at: str) -> str | None:
    """The UTC day of an ISO-8601 timestamp (naive ones are taken as UTC); None if it does not parse."""
    try:
        t = datetime.fromisoformat(recorded_at)
    except (TypeError, ValueError):
        return None
    if t.tzinfo is not None:
        t = t.astimezone(UTC)
    return t.date().isoformat()


def score_playbooks(
    records: Iterable[PlaybookRecord], day: str, *, min_rows: int, limits: Mapping[str, float]
) -> dict[str, Any]:
    """Endorsements recorded on `day` against all recorded before it: Jensen-Shannon distance between
    the per-worker endorsement counts, and the share of the day's endorsed workers never endorsed
    before. A record logged twice counts once; records after `day` are ignored, so a past day scores
    the same later on. Sample sizes are endorsements."""
    date.fromisoformat(day)
    seen: set[str] = set()
    before: Counter[str] = Counter()
    today: Counter[str] = Counter()
    n_before = n_today = 0
    for r in records:
        if r.playbook_id in seen:
            continue
        seen.add(r.playbook_id)
        d = recorded_day(r.recorded_at)
        if d is None or d > day:
            continue
        if d == day:
            today.update(r.endorsed_ids)
            n_today += 1
        else:
            before.update(r.endorsed_ids)
            n_before += 1
    new = [w for w in today if w not in before]
    row: dict[str, Any] = {
        "day": day,
        "baseline_records": n_before,
        "current_records": n_today,
        "baseline_endorsements": before.total(),
        "current_endorsements": today.total(),
        "baseline_workers": len(before),
        "current_workers": len(today),
        "new_workers": len(new),
        "new_worker_share": len(new) / len(today) if today else math.nan,
        "js_distance": categorical_scores(before, today).js_distance,
    }
    row["verdict"] = verdict(before.total(), today.total(), row, limits, min_rows)
    return row


# -- writing and reading the score datasets ---------------------------------------------------

SCORE_TABLES: dict[str, tuple[pa.Schema, tuple[str, ...]]] = {
    DATASET_DRIFT: (DATASET_DRIFT_SCHEMA, ("dataset", "column_name")),
    EMBEDDING_DRIFT: (EMBEDDING_DRIFT_SCHEMA, ("corpus",)),
    SCORER_DRIFT: (SCORER_DRIFT_SCHEMA, ()),
    PLAYBOOK_DRIFT: (PLAYBOOK_DRIFT_SCHEMA, ()),
}


def write_scores(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    day: str,
    rows: Sequence[Mapping[str, Any]],
    *,
    lake: LakeStorage,
    catalog: Catalog,
    scratch_dir: Path,
) -> IngestResult:
    """Make `rows` the rows of `day` in score dataset `name` (one of SCORE_TABLES), NaN stored as null;
    the same rows give the same Parquet bytes, so re-scoring a day registers no new version."""
    schema, order_by = SCORE_TABLES[name]
    table = pa.Table.from_pylist([_nan_to_none(dict(r)) for r in rows], schema=schema)
    return replace_day(conn, name, day, table, order_by=order_by, lake=lake, catalog=catalog, scratch_dir=scratch_dir)


def stored_day(
    conn: duckdb.DuckDBPyConnection, name: str, day: str, *, lake: LakeStorage, catalog: Catalog
) -> list[dict[str, Any]]:
    """The rows of `day` in the stored score dataset `name` (none if it does not exist yet)."""
    date.fromisoformat(day)
    catalog.refresh()
    manifest = catalog.find(name)
    if manifest is None:
        return []
    mount(conn, name, parquet_source(lake, manifest.object_key))
    return conn.sql(f"SELECT * FROM {quote_ident(name)} WHERE day = ?", params=[day]).to_arrow_table().to_pylist()
