import dagster as dg

from lakehouse_assets.core.retrieval.corpora import CORPORA

# One partition per corpus declared in core.corpora.CORPORA.
corpus_partitions = dg.StaticPartitionsDefinition(sorted(CORPORA))
