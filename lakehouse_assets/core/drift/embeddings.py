"""Embedding drift: per corpus, a sample of its index against a baseline sample stored once as the
`embedding_baseline` dataset: cosine shift of the centroid and RBF-kernel MMD."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse_assets.core.drift.names import EMBEDDING_BASELINE
from lakehouse_assets.core.drift.sampling import SEED
from lakehouse_assets.core.drift.statistics import centroid_shift, mmd_rbf
from lakehouse_assets.core.drift.verdicts import Verdict, verdict
from lakehouse_assets.core.lake.derived import register_table
from lakehouse_assets.core.lake.handle import Lake
from lakehouse_assets.core.retrieval.corpora import CorpusSpec
from lakehouse_assets.core.vectors.exceptions import IndexNotFound
from lakehouse_assets.core.vectors.store import VectorStore

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


def read_baseline(conn: duckdb.DuckDBPyConnection, *, lake: Lake) -> dict[str, tuple[list[str], np.ndarray]]:
    """corpus -> (ids, vectors) of the stored `embedding_baseline` dataset (empty if there is none)."""
    if lake.mount_if_exists(conn, EMBEDDING_BASELINE) is None:
        return {}
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
    lake: Lake,
    sample_size: int,
    min_rows: int,
    limits: Mapping[str, float],
) -> EmbeddingDrift:
    """Per corpus, a seeded sample of its index against its stored baseline sample. A corpus without a
    baseline gets one now (this sample, once it has `min_rows` vectors), stored in the `embedding_baseline`
    dataset with every other corpus's baseline kept; it then scores 0 against itself."""
    date.fromisoformat(day)
    baselines = read_baseline(conn, lake=lake)
    new_baselines: dict[str, tuple[list[str], np.ndarray]] = {}
    rows = []
    for spec in sorted(corpora, key=lambda s: s.name):
        row: dict[str, Any] = {"day": day, "corpus": spec.name, "index": spec.index}
        sample = sample_index(store, spec.index, sample_size)
        if sample is None:
            rows.append(
                {**row, "index_vectors": 0, "baseline_vectors": 0, "current_vectors": 0, "verdict": Verdict.NO_INDEX}
            )
            continue
        row.update(index_vectors=sample.index_vectors, current_vectors=len(sample.ids))
        if len(sample.ids):
            row["dimension"] = int(sample.vectors.shape[1])
        baseline = baselines.get(spec.name)
        if baseline is None:
            if len(sample.ids) < min_rows:
                rows.append({**row, "baseline_vectors": 0, "verdict": Verdict.TOO_FEW_ROWS})
                continue
            baseline = new_baselines[spec.name] = (sample.ids, sample.vectors)
        b_ids, b_vectors = baseline
        row["baseline_vectors"] = len(b_ids)
        if len(sample.ids) and b_vectors.shape[1] != sample.vectors.shape[1]:
            rows.append({**row, "verdict": Verdict.INCOMPARABLE})
            continue
        if len(sample.ids):
            row.update(centroid_shift=centroid_shift(b_vectors, sample.vectors), mmd=mmd_rbf(b_vectors, sample.vectors))
        row["verdict"] = verdict(len(b_ids), len(sample.ids), row, limits, min_rows)
        rows.append(row)
    if new_baselines:
        table = baseline_table({**baselines, **new_baselines})
        register_table(conn, EMBEDDING_BASELINE, table, lake=lake)
    return EmbeddingDrift(rows, sorted(new_baselines))
