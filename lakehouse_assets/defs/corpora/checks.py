"""Checks on each corpus's index: it holds exactly the corpus's documents, in the embedder's space."""

import dagster as dg

from lakehouse_assets.core.retrieval.corpora import corpus_spec
from lakehouse_assets.defs.corpora.partitions import corpus_partitions
from lakehouse_assets.resources import EmbedderResource, LakeResource, VectorStoreResource


@dg.asset_check(asset="corpus_embeddings", blocking=True, partitions_def=corpus_partitions)
def vector_count_matches_documents(
    context: dg.AssetCheckExecutionContext, lake: LakeResource, vector_store: VectorStoreResource
) -> dg.AssetCheckResult:
    """The index has one vector per document of the corpus dataset: none missing, none stale."""
    spec = corpus_spec(context.partition_key)
    documents = lake.open().catalog.get(spec.dataset).row_count
    vectors = vector_store.get().count(spec.index)
    return dg.AssetCheckResult(
        passed=vectors == documents,
        metadata={"documents": dg.MetadataValue.int(documents), "vectors": dg.MetadataValue.int(vectors)},
    )


@dg.asset_check(asset="corpus_embeddings", blocking=True, partitions_def=corpus_partitions)
def embedding_dimension_matches(
    context: dg.AssetCheckExecutionContext, embedder: EmbedderResource, vector_store: VectorStoreResource
) -> dg.AssetCheckResult:
    """The index was built by the configured model and has its dimension."""
    spec = corpus_spec(context.partition_key)
    info = vector_store.get().get_index(spec.index)
    model = embedder.get()
    passed = info.dimension == model.dimension and info.model == model.model
    return dg.AssetCheckResult(
        passed=passed,
        metadata={
            "index_model": info.model,
            "index_dimension": dg.MetadataValue.int(info.dimension),
            "embedder_model": model.model,
            "embedder_dimension": dg.MetadataValue.int(model.dimension),
        },
    )
