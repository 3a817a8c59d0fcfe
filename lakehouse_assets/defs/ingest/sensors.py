"""Watches the landing zone: a new or changed `landing/<name>.csv` adds the partition and requests a run."""

import json

import dagster as dg

from lakehouse_assets.core.lake.landing import scan_landing
from lakehouse_assets.defs.ingest.partitions import dataset_partitions
from lakehouse_assets.resources import LakeResource


@dg.sensor(
    target="datasets",
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Materializes a `datasets` partition for each new or changed CSV in the landing zone.",
)
def landing_zone_sensor(context: dg.SensorEvaluationContext, lake: LakeResource) -> dg.SensorResult:
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    scan = scan_landing(lake.open().storage)
    for problem in scan.problems:
        context.log.warning("ignoring landing file %s", problem)
    current = {name: obj.version_tag for name, obj in scan.files.items()}
    requests = [
        dg.RunRequest(partition_key=name, run_key=f"{name}:{tag}")
        for name, tag in sorted(current.items())
        if seen.get(name) != tag
    ]
    new_names = sorted(
        {r.partition_key for r in requests if r.partition_key}
        - set(context.instance.get_dynamic_partitions(dataset_partitions.name))
    )
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[dataset_partitions.build_add_request(new_names)] if new_names else [],
        cursor=json.dumps(current, sort_keys=True),
    )
