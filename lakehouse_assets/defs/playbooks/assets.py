import dagster as dg
from dagster_duckdb import DuckDBResource

from lakehouse_assets.core.lake.derived import register_table
from lakehouse_assets.core.memory.playbooks import PlaybookLog, playbook_table
from lakehouse_assets.defs.pools import CATALOG_WRITERS
from lakehouse_assets.metadata import dataset_metadata
from lakehouse_assets.resources import LakeResource


@dg.asset(deps=[dg.AssetKey("playbook_log")], kinds={"parquet"}, pool=CATALOG_WRITERS)
def playbook_memory(
    context: dg.AssetExecutionContext, lake: LakeResource, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    """Every distinct playbook in the log, as the `playbook_memory` dataset the `playbooks` corpus reads."""
    replay = PlaybookLog(lake.settings().playbook_log_path).replay()
    if replay.skipped_lines:
        context.log.warning("%d unreadable lines in the playbook log were skipped", replay.skipped_lines)
    table = playbook_table(replay.records)
    handle = lake.open()
    with duckdb.get_connection() as conn:
        result = register_table(conn, "playbook_memory", table, lake=handle)
    metadata = dataset_metadata(handle.storage, result.manifest, created=result.created)
    metadata["log_records"] = dg.MetadataValue.int(len(replay.records))
    metadata["skipped_lines"] = dg.MetadataValue.int(replay.skipped_lines)
    return dg.MaterializeResult(metadata=metadata)
