import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
from dagster_duckdb import DuckDBResource

from lakehouse_assets.core.llm.iterate_sessions import read_day, write_day
from lakehouse_assets.core.memory.journal import DailyJournal
from lakehouse_assets.defs.days import days
from lakehouse_assets.defs.pools import CATALOG_WRITERS
from lakehouse_assets.metadata import dataset_metadata, table_metadata
from lakehouse_assets.resources import LakeResource


def _per_model(table: pa.Table) -> dg.MetadataValue:
    """Sessions, acceptance and first-shot success per model that answered, as a table the UI shows."""
    stats: dict[str, list[int]] = {}
    for model, accepted, first in zip(
        table.column("answered_by").to_pylist(),
        table.column("accepted").to_pylist(),
        table.column("first_shot_accepted").to_pylist(),
        strict=True,
    ):
        s = stats.setdefault(model or "(none)", [0, 0, 0])
        s[0], s[1], s[2] = s[0] + 1, s[1] + bool(accepted), s[2] + bool(first)
    rows = [
        {"model": m, "sessions": n, "accepted": a, "first_shot_share": round(f / n, 4)}
        for m, (n, a, f) in sorted(stats.items())
    ]
    return table_metadata(rows, ("model", "sessions", "accepted", "first_shot_share"))


@dg.asset(
    deps=[dg.AssetKey("session_journal")],
    partitions_def=days,
    kinds={"parquet", "duckdb"},
    pool=CATALOG_WRITERS,
)
def iterate_sessions(
    context: dg.AssetExecutionContext, lake: LakeResource, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    """The day's iterate sessions as rows of the `iterate_sessions` dataset (that day's rows replaced,
    other days kept): verdicts, attempts, tokens and grounding per model, queryable through /v1/sql."""
    day = context.partition_key
    settings = lake.settings()
    sessions = read_day(DailyJournal(settings.session_log_dir).day(day), day)
    if sessions.skipped_lines:
        context.log.warning("%d unreadable lines in the %s session journal were skipped", sessions.skipped_lines, day)
    handle = lake.open()
    with duckdb.get_connection() as conn:
        result = write_day(conn, day, sessions.table, lake=handle)
    table = sessions.table
    n = table.num_rows
    accepted = int(pc.sum(table.column("accepted")).as_py() or 0) if n else 0
    first_shot = int(pc.sum(table.column("first_shot_accepted")).as_py() or 0) if n else 0
    metadata = dataset_metadata(handle.storage, result.manifest, created=result.created)
    metadata.update(
        {
            "day_sessions": dg.MetadataValue.int(n),
            "day_accepted": dg.MetadataValue.int(accepted),
            "acceptance_rate": dg.MetadataValue.float(accepted / n if n else 0.0),
            "first_shot_rate": dg.MetadataValue.float(first_shot / n if n else 0.0),
            "day_total_tokens": dg.MetadataValue.int(
                int(pc.sum(table.column("total_tokens")).as_py() or 0) if n else 0
            ),
            "skipped_lines": dg.MetadataValue.int(sessions.skipped_lines),
            "per_model": _per_model(table),
        }
    )
    return dg.MaterializeResult(metadata=metadata)
