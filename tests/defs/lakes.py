"""Sample lakes for end-to-end tests: landing CSV -> Dagster materializations, in-process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg

from lakehouse_assets.core.sample.generate import write_workers_csv
from lakehouse_assets.core.sample.roster_data import ROLES, Role
from lakehouse_assets.core.settings import LakehouseSettings
from lakehouse_assets.definitions import build_definitions


def materialize(defs: dg.Definitions, instance: dg.DagsterInstance, names: list[str], partition: str | None):
    """Materialize the named assets (and their checks), one partition, recorded in `instance`."""
    assets = [defs.get_assets_def(n) for n in names]
    checks = [c for c in defs.asset_checks if any(k.asset_key.to_user_string() in names for k in c.check_keys)]
    if partition and not instance.has_dynamic_partition("datasets", partition) and "datasets" in names:
        instance.add_dynamic_partitions("datasets", [partition])
    return dg.materialize(
        [*assets, *checks], partition_key=partition, instance=instance, resources=defs.resources, raise_on_error=False
    )


def build_lake(
    home: Path, rows: int, roles: tuple[Role, ...] = ROLES, seed: int = 42, **overrides: Any
) -> tuple[LakehouseSettings, dg.Definitions]:
    """A lake home with `rows` sample workers (of `roles`) in its landing zone, and the definitions over it
    (settings `overrides` such as `embedder_backend`)."""
    (home / "landing").mkdir(parents=True)
    write_workers_csv(home / "landing" / "workers.csv", rows, seed=seed, roles=roles)
    settings = LakehouseSettings(home=home, _env_file=None, **overrides)
    return settings, build_definitions(settings)
