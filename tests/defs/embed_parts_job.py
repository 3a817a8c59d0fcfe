"""A job of `corpus_embeddings` alone, rebuilt from the environment's settings in each step's process
(what `dg.reconstructable` needs for the multiprocess executor)."""

import dagster as dg

from lakehouse_assets.core.settings import LakehouseSettings
from lakehouse_assets.definitions import build_definitions


def corpus_embeddings_job() -> dg.JobDefinition:
    defs = build_definitions(LakehouseSettings())
    job = dg.define_asset_job("corpus_embeddings_job", selection=dg.AssetSelection.assets("corpus_embeddings"))
    return dg.Definitions(assets=list(defs.assets or []), resources=defs.resources, jobs=[job]).resolve_job_def(
        "corpus_embeddings_job"
    )
