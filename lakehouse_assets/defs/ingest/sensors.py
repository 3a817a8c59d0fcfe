"""Watches the landing zone: a new or changed `landing/<name>.csv` adds the partition and requests a run."""

import json

import dagster as dg

from lakehouse_assets.core.catalog import InvalidDatasetName, validate_dataset_name
from lakehouse_assets.defs.ingest.assets import datasets
from lakehouse_assets.defs.ingest.partitions import dataset_partitions
from lakehouse_assets.resources import LakeResource
from lakehouse_assets.resources.lake import LANDING_PREFIX


@dg.sensor(
    target=datasets,
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Materializes a `datasets` partition for each new or changed CSV in the landing zone.",
)
def landing_zone_sensor(context: dg.SensorEvaluationContext, lake: LakeResource) -> dg.SensorResult:
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    requests: list[dg.RunRequest] = []
    skipped: list[str] = []
    current: dict[str, str] = {}
    for obj in lake.storage().list(LANDING_PREFIX):
        filename = obj.key[len(LANDING_PREFIX) :]
        if "/" in filename or not filename.endswith(".csv"):
            continue
        name = filename[: -len(".csv")]
        try:
            validate_dataset_name(name)
        except InvalidDatasetName as e:
            skipped.append(str(e))
            continue
        current[name] = obj.version_tag
        if seen.get(name) != obj.version_tag:
            requests.append(dg.RunRequest(partition_key=name, run_key=f"{name}:{obj.version_tag}"))
    for reason in skipped:
        context.log.warning("ignoring landing file: %s", reason)
    new_names = sorted(
        {r.partition_key for r in requests if r.partition_key}
        - set(context.instance.get_dynamic_partitions(dataset_partitions.name))
    )
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[dataset_partitions.build_add_request(new_names)] if new_names else [],
        cursor=json.dumps(current, sort_keys=True),
    )
