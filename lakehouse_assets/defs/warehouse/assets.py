import dagster as dg
from dagster_duckdb import DuckDBResource

from lakehouse_assets.core.lake.derived import WORKERS_BY_ROLE_SQL, build_derived_table
from lakehouse_assets.defs.pools import CATALOG_WRITERS
from lakehouse_assets.metadata import dataset_metadata
from lakehouse_assets.resources import LakeResource


@dg.asset(
    deps=[dg.AssetDep("datasets", partition_mapping=dg.SpecificPartitionsPartitionMapping(["workers"]))],
    kinds={"duckdb", "parquet"},
    automation_condition=dg.AutomationCondition.eager(),
    pool=CATALOG_WRITERS,
)
def workers_by_role(lake: LakeResource, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Head count, average hourly rate and experience per role and state, from the `workers` dataset.

    Registered in the catalog as dataset `workers_by_role`, so `/v1/sql` can query it.
    """
    handle = lake.open()
    with duckdb.get_connection() as conn:
        result = build_derived_table(conn, "workers_by_role", WORKERS_BY_ROLE_SQL, ["workers"], lake=handle)
    return dg.MaterializeResult(metadata=dataset_metadata(handle.storage, result.manifest, created=result.created))
