"""Corpora: documents built from catalog datasets, ready to embed and search.

A corpus is SQL over one catalog dataset that yields one row per document: `id` (unique in the
corpus), `entity_id` (what a hit is about, e.g. a worker), `text` (what is embedded), `content_hash`
(over the text and the metadata, so a changed field re-embeds or re-tags exactly that document) and
the metadata columns that searches filter on. The result is itself a catalog dataset
(`corpus_<name>`), so corpora are SQL-queryable, and the vector index of the same name holds its
embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

from lakehouse_assets.core.lake.catalog import CORPUS_PREFIX
from lakehouse_assets.core.lake.derived import build_derived_table
from lakehouse_assets.core.lake.handle import Lake
from lakehouse_assets.core.lake.register import IngestResult
from lakehouse_assets.core.retrieval.vocabulary import Facet


@dataclass(frozen=True)
class CorpusSpec:
    name: str
    source: str  # the catalog dataset the documents are built from
    entity: str  # what entity_id identifies: "worker", "playbook"
    sql: str
    metadata: tuple[str, ...]  # columns stored with each vector; searches may filter on them
    # What plain-words queries may constrain (core/retrieval/query_parse.py): the facets, and SQL over `source`
    # giving entity_id plus one column per facet. The values are learned from the data.
    facets: tuple[Facet, ...] = ()
    facet_sql: str = ""

    @property
    def dataset(self) -> str:
        return f"{CORPUS_PREFIX}{self.name}"

    @property
    def index(self) -> str:
        return f"{CORPUS_PREFIX}{self.name}"


def _hash(*columns: str) -> str:
    """SQL for the SHA-256 of the columns, separated so that ('a', 'bc') and ('ab', 'c') differ."""
    parts = ", ".join(f"coalesce(CAST({c} AS VARCHAR), '\\N')" for c in columns)
    return f"sha256(concat_ws(chr(31), {parts}))"


# A worker's document says what the worker can do (role, skills, certifications): that is what
# dense similarity ranks well. Where, when and for how much (city, state, shift, availability,
# rate, years) are metadata, matched exactly by filters rather than approximately by the
# embedding. The sample's resume_text restates those same fields in prose; embedding it tripled
# the tokens per document (96 vs 30) and cut throughput from ~175 to ~50 documents/s for no
# meaning the fields do not already carry.
_WORKER_METADATA = (
    "worker_id",
    "role",
    "city",
    "state",
    "hourly_rate",
    "years_experience",
    "availability",
    "shift",
)

WORKERS = CorpusSpec(
    name="workers",
    source="workers",
    entity="worker",
    metadata=_WORKER_METADATA,
    sql=f"""
SELECT
    'worker-' || worker_id AS id,
    CAST(worker_id AS VARCHAR) AS entity_id,
    text,
    {_hash("text", *_WORKER_METADATA)} AS content_hash,
    {", ".join(_WORKER_METADATA)}
FROM (
    SELECT *,
        concat_ws('. ',
            role,
            'Skills: ' || replace(skills, ';', ', '),
            'Certifications: ' || coalesce(replace(certifications, ';', ', '), 'none')
        ) AS text
    FROM workers
)
ORDER BY worker_id
""",
    facets=(
        Facet("role", "category", semantic=True),
        Facet("certifications", "list", label="certification", semantic=True),
        Facet("skills", "list", label="skill", semantic=True),
        Facet("languages", "list", label="language"),
        Facet("shift", "category"),
        Facet("availability", "category"),
        Facet("city", "category"),
        Facet("state", "category"),
        Facet("years_experience", "number", label="years of experience", units=("year", "years", "yr", "yrs")),
        Facet(
            "hourly_rate",
            "number",
            label="hourly rate",
            units=("$", "dollar", "dollars", "hour", "hourly", "hr", "usd", "rate", "pay", "wage", "wages"),
        ),
    ),
    facet_sql="""
SELECT CAST(worker_id AS VARCHAR) AS entity_id, role, certifications, skills, languages, shift,
       availability, city, state, years_experience, hourly_rate
FROM workers
""",
)

_PLAYBOOK_METADATA = ("playbook_id", "outcome", "endorsed_ids", "rejected_ids", "recorded_at")

PLAYBOOKS = CorpusSpec(
    name="playbooks",
    source="playbook_memory",
    entity="playbook",
    metadata=_PLAYBOOK_METADATA,
    sql=f"""
SELECT
    'playbook-' || playbook_id AS id,
    playbook_id AS entity_id,
    query AS text,
    {_hash("query", *_PLAYBOOK_METADATA)} AS content_hash,
    {", ".join(_PLAYBOOK_METADATA)}
FROM playbook_memory
ORDER BY recorded_at, playbook_id
""",
)

CORPORA: dict[str, CorpusSpec] = {c.name: c for c in (WORKERS, PLAYBOOKS)}


def corpus_spec(name: str) -> CorpusSpec:
    try:
        return CORPORA[name]
    except KeyError:
        raise KeyError(f"no corpus named {name!r}; corpora: {', '.join(sorted(CORPORA))}") from None


def build_corpus(
    spec: CorpusSpec,
    conn: duckdb.DuckDBPyConnection,
    *,
    lake: Lake,
) -> IngestResult:
    """Build the corpus's documents from its source dataset and register them as `corpus_<name>`."""
    return build_derived_table(conn, spec.dataset, spec.sql, [spec.source], lake=lake)


def documents_table(spec: CorpusSpec, conn: duckdb.DuckDBPyConnection, *, lake: Lake) -> pa.Table:
    """The corpus's current documents (its catalog dataset) as an Arrow table."""
    lake.mount_live(conn, spec.dataset)
    return conn.sql(f'SELECT * FROM "{spec.dataset}"').to_arrow_table()
