"""Every asset spec of the code location, as a reviewer should see it change: key, group, owners, kinds,
partitions, dependencies, checks, automation and pool. An accidental change (an asset that lost its group,
a check that no longer loads, a partition set that moved) fails here and shows in the diff of
`asset_specs.json`; a deliberate one regenerates it: LAKEHOUSE_UPDATE_SPECS=1 pytest tests/defs/test_asset_specs.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import dagster as dg

from lakehouse_assets.core.settings import LakehouseSettings
from lakehouse_assets.definitions import build_definitions

SNAPSHOT = Path(__file__).with_name("asset_specs.json")


def _partitions(partitions_def: dg.PartitionsDefinition | None) -> Any:
    if partitions_def is None:
        return None
    if isinstance(partitions_def, dg.StaticPartitionsDefinition):
        return {"static": partitions_def.get_partition_keys()}
    if isinstance(partitions_def, dg.DynamicPartitionsDefinition):
        return {"dynamic": partitions_def.name}
    if isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        return {"time": partitions_def.cron_schedule, "start": partitions_def.start.date().isoformat()}
    return {type(partitions_def).__name__: str(partitions_def)}


def _automation(condition: dg.AutomationCondition | None) -> str | None:
    """Its label (eager, on_inputs, ...) or its kind: what a reviewer reads; the tree itself is Dagster's."""
    if condition is None:
        return None
    return condition.get_label() or type(condition).__name__


def _pool(assets_def: dg.AssetsDefinition) -> Any:
    if not assets_def.is_executable or not assets_def.is_materializable:
        return None
    node = assets_def.node_def
    if isinstance(node, dg.OpDefinition):
        return node.pool
    return sorted({op.pool for op in node.iterate_op_defs() if op.pool})  # a graph: its ops' pools


def specs(defs: dg.Definitions) -> dict[str, Any]:
    graph = defs.resolve_asset_graph()
    checks: dict[str, list[str]] = {}
    for key in graph.asset_check_keys:
        checks.setdefault(key.asset_key.to_user_string(), []).append(key.name)
    out: dict[str, Any] = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        name = key.to_user_string()
        assets_def = node.assets_def
        out[name] = {
            "group": node.group_name,
            "owners": sorted(node.owners),
            "kinds": sorted(node.kinds),
            "partitions": _partitions(node.partitions_def),
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "checks": sorted(checks.get(name, [])),
            "automation": _automation(node.automation_condition),
            "pool": _pool(assets_def),
            "observable": assets_def.is_observable,
        }
    return out


def test_asset_specs_are_the_reviewed_ones(tmp_path: Path) -> None:
    got = specs(build_definitions(LakehouseSettings(home=tmp_path / "lake", _env_file=None)))
    if os.environ.get("LAKEHOUSE_UPDATE_SPECS"):
        SNAPSHOT.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
    want = json.loads(SNAPSHOT.read_text())
    assert sorted(got) == sorted(want), "assets added or gone"
    changed = {k: {"now": got[k], "reviewed": want[k]} for k in got if got[k] != want[k]}
    assert not changed, json.dumps(changed, indent=1)
