import dagster as dg
from dagster_duckdb import DuckDBResource

from lakehouse_assets.core.retrieval.corpora import build_corpus, corpus_spec, documents_table
from lakehouse_assets.core.retrieval.frame_cache import tier_index
from lakehouse_assets.core.vectors.indexing import sync_index
from lakehouse_assets.defs.corpora.embedding import embed_embeddings_part, finish_embeddings, plan_embeddings
from lakehouse_assets.defs.corpora.partitions import corpus_partitions
from lakehouse_assets.defs.pools import CATALOG_WRITERS, VECTOR_STORE
from lakehouse_assets.metadata import dataset_metadata
from lakehouse_assets.resources import EmbedderResource, LakeResource, VectorStoreResource


@dg.asset(
    partitions_def=corpus_partitions,
    deps=[
        dg.AssetDep("datasets", partition_mapping=dg.SpecificPartitionsPartitionMapping(["workers"])),
        dg.AssetDep("playbook_memory"),
    ],
    kinds={"duckdb", "parquet"},
    pool=CATALOG_WRITERS,
)
def corpus_documents(
    context: dg.AssetExecutionContext, lake: LakeResource, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    """One document per entity of the corpus (text to embed, content hash, filterable metadata),
    registered as the `corpus_<name>` dataset so it is SQL-queryable."""
    spec = corpus_spec(context.partition_key)
    handle = lake.open()
    with duckdb.get_connection() as conn:
        result = build_corpus(spec, conn, lake=handle)
    metadata = dataset_metadata(handle.storage, result.manifest, created=result.created)
    metadata["source_dataset"] = dg.MetadataValue.text(spec.source)
    return dg.MaterializeResult(metadata=metadata)


def _sync(
    context: dg.AssetExecutionContext,
    index: str,
    lake: LakeResource,
    duckdb: DuckDBResource,
    embedder: EmbedderResource,
    vector_store: VectorStoreResource,
    *,
    store_texts: bool = True,
) -> dg.MaterializeResult:
    """Keep `index` in step with the partition's corpus documents, with `embedder`'s model."""
    spec = corpus_spec(context.partition_key)
    with duckdb.get_connection() as conn:
        documents = documents_table(spec, conn, lake=lake.open())
    model = embedder.get()

    def progress(done: int, total: int) -> None:
        if total and (done == total or done % 5000 < 512):
            context.log.info("%s: embedded %d of %d changed documents", index, done, total)

    store = vector_store.get()
    sync = sync_index(
        index,
        documents,
        spec.metadata,
        embedder=model.inner,  # bulk work bypasses the query cache
        store=store,
        hnsw=vector_store.hnsw(),
        progress=progress,
        replace_other_settings=True,  # derived from the lake: a model change rebuilds it
        store_texts=store_texts,
    )
    if sync.replaced:
        context.log.warning("%s rebuilt from scratch: %s", index, sync.replaced)
    rate = sync.embedded / sync.seconds if sync.seconds and sync.embedded else 0.0
    return dg.MaterializeResult(
        metadata={
            "index": dg.MetadataValue.text(sync.index),
            "documents": dg.MetadataValue.int(sync.total),
            "embedded": dg.MetadataValue.int(sync.embedded),
            "encoded": dg.MetadataValue.int(sync.encoded),
            "skipped": dg.MetadataValue.int(sync.skipped),
            "deleted": dg.MetadataValue.int(sync.deleted),
            "vectors": dg.MetadataValue.int(store.count(index)),
            "model": dg.MetadataValue.text(sync.model),
            "dimension": dg.MetadataValue.int(sync.dimension),
            "seconds": dg.MetadataValue.float(round(sync.seconds, 3)),
            "embedded_per_second": dg.MetadataValue.float(round(rate, 1)),
            "rebuilt": dg.MetadataValue.text(sync.replaced or "no"),
        }
    )


@dg.asset(
    partitions_def=corpus_partitions,
    deps=[corpus_documents],
    kinds={"chroma", "python"},
    pool=VECTOR_STORE,
)
def corpus_instant_embeddings(
    context: dg.AssetExecutionContext,
    lake: LakeResource,
    duckdb: DuckDBResource,
    instant_embedder: EmbedderResource,
    vector_store: VectorStoreResource,
) -> dg.MaterializeResult:
    """The corpus's instant index (`<index>-instant`): the same documents embedded by a static model
    distilled from the full one, about 30x faster, so a new roster is searchable by meaning within a minute.
    Search answers from it until the full model's index holds every document, then switches by itself."""
    spec = corpus_spec(context.partition_key)
    # Its hits take their text from the search frame, as every frame-served hit does: vectors only.
    index = tier_index(spec.index, "instant")
    return _sync(context, index, lake, duckdb, instant_embedder, vector_store, store_texts=False)


@dg.graph_asset(
    partitions_def=corpus_partitions,
    ins={
        "documents_built": dg.AssetIn("corpus_documents", dagster_type=dg.Nothing),
        "instant_built": dg.AssetIn("corpus_instant_embeddings", dagster_type=dg.Nothing),
    },
    kinds={"chroma", "python"},
)
def corpus_embeddings(documents_built: None, instant_built: None) -> None:
    """The corpus's vector index, kept in step incrementally: only new or changed documents are embedded,
    removed ones are deleted. Runs after the instant index, which answers searches meanwhile. Its
    embedding splits into `LAKEHOUSE_EMBED_PARTS` steps that executors can run side by side."""
    plan, parts = plan_embeddings(documents_built=documents_built, instant_built=instant_built)
    return finish_embeddings(plan, parts.map(embed_embeddings_part).collect())
