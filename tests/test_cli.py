"""The `lakehouse` command's data steps (the long-running `api` and `demo` are exercised by make demo)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from lakehouse_assets.cli import _stack_config, build_parser, main
from lakehouse_assets.core.lake.catalog import DERIVED_SOURCE, OWNED_DATASETS, OWNED_PREFIXES, Catalog
from lakehouse_assets.core.lake.storage import open_storage
from lakehouse_assets.core.settings import LakehouseSettings
from lakehouse_assets.services import Stack


@pytest.fixture
def home(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path / "lake"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    return tmp_path / "lake"


def test_sample_writes_the_landing_csv(home, capsys):
    assert main(["sample", "--rows", "1000"]) == 0
    csv = home / "landing" / "workers.csv"
    assert csv.read_bytes().startswith(b'"worker_id","name","role"')
    assert sum(1 for _ in csv.open("rb")) > 1000
    assert "1,000 workers" in capsys.readouterr().out


def test_sample_refuses_out_of_range_rows_with_a_clear_message(home, capsys):
    assert main(["sample", "--rows", "10"]) == 2
    assert "1,000" in capsys.readouterr().err
    assert not (home / "landing" / "workers.csv").exists()


def test_materialize_builds_datasets_and_derived_tables_in_the_instance(home, monkeypatch):
    import lakehouse_assets.definitions as definitions

    monkeypatch.setattr(definitions, "defs", definitions.build_definitions(LakehouseSettings(_env_file=None)))
    assert main(["sample", "--rows", "1000"]) == 0
    assert main(["materialize"]) == 0
    catalog = Catalog(open_storage(LakehouseSettings(_env_file=None)))
    assert catalog.get("workers").row_count == 1000
    assert catalog.get("workers_by_role").row_count > 0
    derived = [m.name for m in catalog.list() if m.current.source == DERIVED_SOURCE]
    assert "workers_by_role" in derived
    # every table an asset wrote is reserved by name, so an upload cannot create it before its asset runs
    assert [n for n in derived if not (n.startswith(OWNED_PREFIXES) or n in OWNED_DATASETS)] == []
    with dg.DagsterInstance.get() as instance:
        assert instance.get_latest_materialization_event(dg.AssetKey("workers_by_role")) is not None
        assert instance.has_dynamic_partition("datasets", "workers")


def test_materialize_goes_on_past_a_bad_landing_file_and_reports_it(home, monkeypatch, capsys):
    import lakehouse_assets.definitions as definitions

    monkeypatch.setattr(definitions, "defs", definitions.build_definitions(LakehouseSettings(_env_file=None)))
    assert main(["sample", "--rows", "1000"]) == 0
    (home / "landing" / "broken.csv").write_text("a,b\n1,2\n3,4,5\n")
    assert main(["materialize"]) == 1
    assert "1 failed" in capsys.readouterr().out
    catalog = Catalog(open_storage(LakehouseSettings(_env_file=None)))
    assert catalog.get("workers").row_count == 1000 and catalog.find("broken") is None
    assert catalog.get("workers_by_role").row_count > 0
    derived = [m.name for m in catalog.list() if m.current.source == DERIVED_SOURCE]
    assert "workers_by_role" in derived
    # every table an asset wrote is reserved by name, so an upload cannot create it before its asset runs
    assert [n for n in derived if not (n.startswith(OWNED_PREFIXES) or n in OWNED_DATASETS)] == []


def _hosts(argv: list[str], home: Path) -> dict[str, str]:
    """The address each service of `lakehouse <argv>` would listen on."""
    plan = Stack(_stack_config(build_parser().parse_args(argv), LakehouseSettings(home=home, _env_file=None))).plan()
    flags = {"chroma": "--host", "dagster": "-h", "api": "--host"}
    return {service.name: cmd[cmd.index(flags[service.name]) + 1] for service, cmd, _ in plan}


def test_the_stack_keeps_chroma_and_dagster_on_loopback_unless_told(home):
    """Before: `lakehouse up --host 0.0.0.0` bound Chroma and the Dagster webserver, which have no authentication,
    to every interface too."""
    assert _hosts(["up", "--host", "0.0.0.0"], home) == {
        "chroma": "127.0.0.1",
        "dagster": "127.0.0.1",
        "api": "0.0.0.0",
    }
    assert _hosts(["demo", "--host", "0.0.0.0", "--services-host", "10.0.0.5"], home) == {
        "chroma": "10.0.0.5",
        "dagster": "10.0.0.5",
        "api": "0.0.0.0",
    }
