from typing import Literal

import dagster as dg
from pydantic import Field

from lakehouse_assets.core.ingest.csv import TooLarge, ingest_csv
from lakehouse_assets.core.ingest.exceptions import BadCsv
from lakehouse_assets.core.lake.catalog import SchemaConflict, SchemaEvolution
from lakehouse_assets.core.lake.landing import landing_key
from lakehouse_assets.core.lake.storage import ObjectNotFound
from lakehouse_assets.defs.ingest.partitions import dataset_partitions
from lakehouse_assets.defs.pools import CATALOG_WRITERS
from lakehouse_assets.metadata import dataset_metadata
from lakehouse_assets.resources import LakeResource


class IngestConfig(dg.Config):
    # Literal, not the enum: Dagster's launchpad takes an enum by member name, users write the value.
    schema_evolution: Literal["none", "additive"] = Field(
        default="none",
        description="`additive`: the CSV may add columns after the live ones; any other change fails the run.",
    )


@dg.asset(
    partitions_def=dataset_partitions,
    kinds={"csv", "parquet"},
    pool=CATALOG_WRITERS,
)
def datasets(context: dg.AssetExecutionContext, lake: LakeResource, config: IngestConfig) -> dg.MaterializeResult:
    """One Parquet dataset per landing-zone CSV (`landing/<name>.csv`), registered in the catalog.

    Identical content is a no-op; new content with the same schema is a new version; a changed
    schema fails the run and leaves the live version untouched.
    """
    name = context.partition_key
    handle = lake.open()
    storage = handle.storage
    try:
        with lake.landing_file(name) as path:
            result = ingest_csv(
                path,
                name,
                lake=handle,
                limits=lake.limits(),
                source_label=f"dagster run {context.run_id[:8]}",
                evolve=SchemaEvolution(config.schema_evolution),
            )
    except (FileNotFoundError, ObjectNotFound) as e:
        raise dg.Failure(
            description=f"landing file {landing_key(name)} is missing from {storage.describe()}: {e}"
        ) from None
    except (SchemaConflict, BadCsv, TooLarge) as e:
        # The live version is untouched; say why in the UI instead of a stack trace.
        raise dg.Failure(description=f"{landing_key(name)} was not ingested: {e}") from None
    manifest = result.manifest
    context.log.info(
        "%s: version %d, %d rows (%s)",
        name,
        manifest.version,
        manifest.row_count,
        "new" if result.created else "unchanged",
    )
    return dg.MaterializeResult(metadata=dataset_metadata(storage, manifest, created=result.created))
