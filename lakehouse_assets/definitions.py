"""The code location: every domain's assets, checks and sensors, and the resources they share."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from lakehouse_assets.core.settings import LakehouseSettings
from lakehouse_assets.defs.corpora import assets as corpora_assets
from lakehouse_assets.defs.corpora import checks as corpora_checks
from lakehouse_assets.defs.distillation import assets as distillation_assets
from lakehouse_assets.defs.distillation import checks as distillation_checks
from lakehouse_assets.defs.distillation.jobs import replay_past_tasks
from lakehouse_assets.defs.distillation.schedules import distillation_job, distillation_schedule
from lakehouse_assets.defs.drift import assets as drift_assets
from lakehouse_assets.defs.drift import checks as drift_checks
from lakehouse_assets.defs.drift.schedules import drift_job, drift_schedule
from lakehouse_assets.defs.ingest import assets as ingest_assets
from lakehouse_assets.defs.ingest import checks as ingest_checks
from lakehouse_assets.defs.ingest.sensors import landing_zone_sensor
from lakehouse_assets.defs.matrix import assets as matrix_assets
from lakehouse_assets.defs.validation import assets as validation_assets
from lakehouse_assets.defs.validation import checks as validation_checks
from lakehouse_assets.defs.validation.schedules import iterate_sessions_job, iterate_sessions_schedule
from lakehouse_assets.defs.warehouse import assets as warehouse_assets
from lakehouse_assets.resources import ChatResource, EmbedderResource, LakeResource, VectorStoreResource


def build_definitions(settings: LakehouseSettings | None = None) -> dg.Definitions:
    settings = settings or LakehouseSettings()
    return dg.Definitions(
        assets=dg.load_assets_from_modules(
            [
                ingest_assets,
                warehouse_assets,
                matrix_assets,
                corpora_assets,
                validation_assets,
                distillation_assets,
                drift_assets,
            ]
        ),
        asset_checks=dg.load_asset_checks_from_modules(
            [ingest_checks, corpora_checks, validation_checks, distillation_checks, drift_checks]
        ),
        sensors=[landing_zone_sensor],
        schedules=[iterate_sessions_schedule, distillation_schedule, drift_schedule],
        jobs=[iterate_sessions_job, distillation_job, drift_job, replay_past_tasks],
        resources={
            "lake": LakeResource.from_settings(settings),
            "duckdb": DuckDBResource(database=":memory:"),
            "embedder": EmbedderResource.from_settings(settings),
            "instant_embedder": EmbedderResource.instant_from_settings(settings),
            "vector_store": VectorStoreResource.from_settings(settings),
            "chat": ChatResource.from_settings(settings),
        },
    )


defs = build_definitions()
