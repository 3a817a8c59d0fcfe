"""The full model's index of a corpus, as a graph of steps: plan once, embed the plan's parts, finish once.

With `parts` of 1 (the default) it is the one-process `sync_index` in three steps. With more, each part
is a step of its own: the multiprocess executor runs them in processes side by side, a Kubernetes or
Celery executor on other machines (give the run an I/O manager every machine reaches, such as S3's).
Every part writes into the same Chroma server, which is why more than one part needs that server.
"""

import os
from dataclasses import dataclass

import dagster as dg
import pyarrow as pa
from dagster_duckdb import DuckDBResource

from lakehouse_assets.core.retrieval.corpora import corpus_spec, documents_table
from lakehouse_assets.core.vectors.indexing import IndexPlan, PartSync, embed_part, finish_index, plan_index, split_plan
from lakehouse_assets.defs.pools import VECTOR_STORE
from lakehouse_assets.resources import EmbedderResource, LakeResource, VectorStoreResource


@dataclass(frozen=True)
class EmbedPart:
    """One part of a plan, handed to the step that embeds it."""

    plan: IndexPlan
    number: int
    ids: tuple[str, ...]


@dataclass(frozen=True)
class PartDone:
    number: int
    sync: PartSync
    process: int  # the pid that embedded it


def _documents(partition: str, lake: LakeResource, duckdb: DuckDBResource) -> pa.Table:
    spec = corpus_spec(partition)
    with duckdb.get_connection() as conn:
        return documents_table(spec, conn, lake=lake.open())


@dg.op(
    ins={"documents_built": dg.In(dg.Nothing), "instant_built": dg.In(dg.Nothing)},
    out={"plan": dg.Out(IndexPlan), "parts": dg.DynamicOut(EmbedPart)},
    pool=VECTOR_STORE,
)
def plan_embeddings(
    context: dg.OpExecutionContext,
    lake: LakeResource,
    duckdb: DuckDBResource,
    embedder: EmbedderResource,
    vector_store: VectorStoreResource,
):
    """Ensure the index with the embedder's settings (rebuilt if another model's) and cut its work in parts."""
    if embedder.parts > 1 and not vector_store.chroma_url:
        raise dg.Failure(
            f"LAKEHOUSE_EMBED_PARTS={embedder.parts} needs a Chroma server (LAKEHOUSE_CHROMA_URL): processes "
            "writing one local Chroma folder side by side would corrupt it"
        )
    spec = corpus_spec(context.partition_key)
    documents = _documents(context.partition_key, lake, duckdb)
    plan = plan_index(
        spec.index,
        documents,
        embedder=embedder.get().inner,
        store=vector_store.get(),
        hnsw=vector_store.hnsw(),
        replace_other_settings=True,  # derived from the lake: a model change rebuilds it
    )
    if plan.replaced:
        context.log.warning("%s rebuilt from scratch: %s", plan.index, plan.replaced)
    parts = split_plan(plan, documents, embedder.parts)
    context.log.info("%s: %d of %d documents to embed, in %d parts", plan.index, len(plan.todo), plan.total, len(parts))
    yield dg.Output(plan, "plan")
    for number, ids in enumerate(parts):
        yield dg.DynamicOutput(EmbedPart(plan, number, ids), mapping_key=f"part_{number}", output_name="parts")


@dg.op
def embed_embeddings_part(
    context: dg.OpExecutionContext,
    part: EmbedPart,
    lake: LakeResource,
    duckdb: DuckDBResource,
    embedder: EmbedderResource,
    vector_store: VectorStoreResource,
) -> PartDone:
    """Embed one part of the plan into the index (no pool: parts run side by side)."""
    spec = corpus_spec(context.partition_key)
    documents = _documents(context.partition_key, lake, duckdb)

    def progress(done: int, total: int) -> None:
        if total and (done == total or done % 5000 < 512):
            context.log.info("%s part %d: embedded %d of %d", part.plan.index, part.number, done, total)

    sync = embed_part(
        part.plan,
        part.ids,
        documents,
        spec.metadata,
        embedder=embedder.get().inner,  # bulk work bypasses the query cache
        store=vector_store.get(),
        progress=progress,
    )
    return PartDone(part.number, sync, os.getpid())


@dg.op(out=dg.Out(dg.Nothing), pool=VECTOR_STORE)
def finish_embeddings(
    context: dg.OpExecutionContext, plan: IndexPlan, parts: list[PartDone], vector_store: VectorStoreResource
) -> None:
    """Delete what the corpus no longer has, and say what the run did."""
    store = vector_store.get()
    busy = float(sum(p.sync.seconds for p in parts))
    sync = finish_index(plan, [p.sync for p in parts], store=store, seconds=busy)
    rate = sync.embedded / busy if busy and sync.embedded else 0.0
    metadata = {
        "index": dg.MetadataValue.text(sync.index),
        "documents": dg.MetadataValue.int(sync.total),
        "embedded": dg.MetadataValue.int(sync.embedded),
        "encoded": dg.MetadataValue.int(sync.encoded),
        "skipped": dg.MetadataValue.int(sync.skipped),
        "deleted": dg.MetadataValue.int(sync.deleted),
        "vectors": dg.MetadataValue.int(store.count(sync.index)),
        "model": dg.MetadataValue.text(sync.model),
        "dimension": dg.MetadataValue.int(sync.dimension),
        "parts": dg.MetadataValue.int(len(parts)),
        "processes": dg.MetadataValue.int(len({p.process for p in parts})),
        "seconds": dg.MetadataValue.float(round(busy, 3)),  # embedding time, summed over the parts
        "slowest_part_seconds": dg.MetadataValue.float(round(max((p.sync.seconds for p in parts), default=0.0), 3)),
        "embedded_per_second": dg.MetadataValue.float(round(rate, 1)),
        "rebuilt": dg.MetadataValue.text(sync.replaced or "no"),
    }
    context.add_output_metadata(metadata)
