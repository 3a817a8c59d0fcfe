"""The code location: everything in the `defs/` folder (one folder per domain; each folder's `defs.yaml`
sets its assets' group and owners), with the resources they share."""

from pathlib import Path

import dagster as dg

from lakehouse_assets.core.settings import LakehouseSettings
from lakehouse_assets.resources.shared import shared_resources


def build_definitions(settings: LakehouseSettings | None = None) -> dg.Definitions:
    folder = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    return dg.Definitions.merge(folder, dg.Definitions(resources=shared_resources(settings or LakehouseSettings())))


defs = build_definitions()
