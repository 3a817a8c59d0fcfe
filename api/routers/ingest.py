from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from api.deps import DagsterDep, LakeDep, SettingsDep, SqlDep
from api.links import DATASET_LINKS
from api.routing import Route
from api.schemas.datasets import ManifestOut
from api.schemas.errors import ErrorBody
from api.slots import slot
from api.upload import open_spool, receive_upload
from lakehouse_assets.core.ingest.csv import IngestLimits, ingest_csv
from lakehouse_assets.core.lake.catalog import SchemaEvolution, refuse_owned, validate_dataset_name
from lakehouse_assets.core.lake.register import IngestResult

EVOLUTION = "`additive`: the CSV may add columns after the live ones; any other change is a 409, as by default."
router = APIRouter(prefix="/ingest", tags=["ingest"], route_class=Route)

CSV_BODY = {
    "content": {
        "text/csv": {"schema": {"type": "string"}},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
                "required": ["file"],
            }
        },
    },
    "required": True,
}


@router.post(
    "",
    dependencies=[slot("ingests")],
    status_code=201,
    openapi_extra={"requestBody": CSV_BODY},
    responses={
        200: {
            "model": ManifestOut,
            "description": "Identical content: nothing new was registered.",
            "links": DATASET_LINKS,
        },
        201: {"description": "A new version.", "links": DATASET_LINKS},
        400: {"model": ErrorBody},
        409: {
            "model": ErrorBody,
            "description": "Schema drift (the live dataset is untouched), or a name the assets produce.",
        },
        413: {"model": ErrorBody},
        415: {"model": ErrorBody},
    },
)
async def ingest(
    request: Request,
    response: Response,
    background: BackgroundTasks,
    name: Annotated[str, Query(description="Dataset name (lowercase identifier).")],
    settings: SettingsDep,
    lake: LakeDep,
    sql: SqlDep,
    dagster: DagsterDep,
    schema_evolution: Annotated[SchemaEvolution, Query(description=EVOLUTION)] = SchemaEvolution.NONE,
) -> ManifestOut:
    """Ingest a CSV (raw text/csv body, or multipart field `file`) as a new version of `name`.

    201 with the manifest for a new version, 200 when the content is already live.
    """
    validate_dataset_name(name)
    refuse_owned(name, lake.catalog.find(name))  # before the upload is read (the conversion checks storage again)
    spool = open_spool(request, lake.scratch(), settings.max_ingest_bytes)
    # The conversion starts now and reads the spool as the body arrives: parsing overlaps the upload.
    conversion = asyncio.ensure_future(
        run_in_threadpool(
            ingest_csv,
            spool,
            name,
            lake=lake,
            limits=IngestLimits(max_bytes=settings.max_ingest_bytes),
            source_label="api",
            evolve=schema_evolution,
        )
    )
    try:
        try:
            await receive_upload(request, spool)
        except BaseException:
            await _settle(conversion)  # the discarded spool ends it with UploadAborted
            raise
        result = await conversion
    finally:
        spool.path.unlink(missing_ok=True)
    if not result.created:
        response.status_code = 200
    else:
        await run_in_threadpool(sql.refresh, True)
        background.add_task(dagster.report_ingest, lake.storage, result.manifest, result.created)
    return ManifestOut.of(result.manifest)


async def _settle(task: asyncio.Future[IngestResult]) -> None:
    """Wait for a conversion whose upload failed; its own failure follows from the upload's."""
    await asyncio.wait([task])
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log it as never retrieved
