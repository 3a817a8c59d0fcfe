"""The distillation graph in-process for one day: evidence -> scored -> export, idempotent to the byte,
the contamination firewall keeping held-out items out and failing on a contaminated export, and the
replay job closing the loop through a fake Ollama."""

from __future__ import annotations

import io
import json
from pathlib import Path

import dagster as dg
import pytest

from lakehouse_assets.core.distillation.sft import Firewall
from lakehouse_assets.core.ingest.csv import IngestLimits, ingest_csv
from lakehouse_assets.core.lake.catalog import Catalog
from lakehouse_assets.core.lake.handle import Lake
from lakehouse_assets.core.lake.storage import open_storage
from lakehouse_assets.core.memory.journal import DailyJournal
from lakehouse_assets.core.settings import LakehouseSettings
from lakehouse_assets.definitions import build_definitions
from lakehouse_assets.defs.distillation import assets as distillation_assets
from lakehouse_assets.defs.distillation.jobs import replay_past_tasks
from tests.core.distillation.test_distillation import DAY, seed_journals
from tests.fakes.llm_servers import Reply

CHAIN = ["evidence_records", "scored_evidence", "sft_export"]


@pytest.fixture
def settings(tmp_path: Path) -> LakehouseSettings:
    s = LakehouseSettings(home=tmp_path / "lake", _env_file=None)
    seed_journals(s)
    return s


def run(settings, instance, names, *, checks=True) -> dg.ExecuteInJobResult:
    defs = build_definitions(settings)
    return dg.materialize(
        [*(defs.get_assets_def(n) for n in CHAIN), *defs.asset_checks],
        partition_key=DAY,
        instance=instance,
        resources=defs.resources,
        selection=dg.AssetSelection.assets(*names) if checks else dg.AssetSelection.assets(*names).without_checks(),
        raise_on_error=False,
    )


def meta(result, name: str) -> dict:
    [m] = result.asset_materializations_for_node(name)
    return {k: v.value for k, v in m.metadata.items()}


def holdout(settings, *inputs: str) -> None:
    body = "input\n" + "".join(json.dumps(i) + "\n" for i in inputs)
    ingest_csv(io.BytesIO(body.encode()), "eval_holdout", lake=Lake.open(settings), limits=IngestLimits())


def test_one_day_through_the_chain_byte_identical_on_rerun(settings, instance):
    result = run(settings, instance, CHAIN)
    assert result.success
    evidence = meta(result, "evidence_records")
    assert (evidence["observer_records"], evidence["iterate_records"], evidence["playbook_records"]) == (2, 3, 1)
    assert evidence["replay_records"] == 1 and evidence["skipped_lines"] == 1
    scored = meta(result, "scored_evidence")
    assert scored["day_rows"] == 7 and scored["gold_records"] >= 1
    export = meta(result, "sft_export")
    assert export["candidates"] == 1 and export["exported"] == 1 and export["holdout_items"] == 0
    lake = open_storage(settings)
    [line] = lake.get_bytes(f"exports/sft/{DAY}.jsonl").decode().splitlines()
    assert json.loads(line)["messages"][1]["content"] == "Fill C-1 (s1)"
    [check] = result.get_asset_check_evaluations()
    assert check.passed

    catalog = Catalog(lake)
    before = {n: [lake.get_bytes(k) for k in catalog.get(n).data_files] for n in CHAIN}
    again = run(settings, instance, CHAIN)
    assert meta(again, "evidence_records")["output_hash"] == evidence["output_hash"]
    catalog.refresh()
    assert {n: [lake.get_bytes(k) for k in catalog.get(n).data_files] for n in CHAIN} == before
    assert all(meta(again, n)["new_version"] is False for n in CHAIN)


def test_firewall_keeps_held_out_items_out_exactly_and_by_embedding(settings, instance):
    holdout(settings, "Fill C-1 (s1).", "Forklift operators for Joliet")  # a near-duplicate of s1's prompt
    result = run(settings, instance, CHAIN)
    export = meta(result, "sft_export")
    assert export["candidates"] == 1 and export["exported"] == 0 and export["firewalled_near_duplicate"] == 1
    assert result.get_asset_check_evaluations()[0].passed
    assert open_storage(settings).get_bytes(f"exports/sft/{DAY}.jsonl") == b""


def test_a_contaminated_export_fails_the_blocking_check(settings, instance, monkeypatch):
    """If the export's own filter were bypassed, the check (reading what was stored) still catches it."""

    class Bypassed(Firewall):
        def check(self, prompts):
            return [None] * len(prompts)

    monkeypatch.setattr(distillation_assets, "Firewall", Bypassed)
    holdout(settings, "fill c-1 (S1)")
    result = run(settings, instance, CHAIN)
    assert meta(result, "sft_export")["exported"] == 1  # the contaminated example got in
    [check] = result.get_asset_check_evaluations()
    assert not check.passed and check.metadata["contaminated"].value == 1
    assert "(exact)" in check.metadata["evidence_ids"].value


def test_replay_job_closes_the_loop(settings, instance, ollama):
    roster = b"worker_id,name,availability,shift\n1,Ann,available,night\n"
    ingest_csv(io.BytesIO(roster), "workers", lake=Lake.open(settings), limits=IngestLimits())
    value = {"contract_id": "C-1", "target_count": 1, "candidates": [{"worker_id": "1", "reason": "night welder"}]}
    ollama.then(Reply(content=json.dumps(value)), Reply(content="no idea"), Reply(content=json.dumps(value)))
    defs = build_definitions(LakehouseSettings(home=settings.home, ollama_host=ollama.url, _env_file=None))
    result = replay_past_tasks.execute_in_process(
        run_config={"ops": {n: {"config": {"day": DAY, "k": 0}} for n in ("load_past_tasks", "replay_tasks")}},
        resources=defs.resources,
        instance=instance,
    )
    assert result.success
    assert result.output_for_node("replay_tasks") == {"accepted": 2, "invalid_json": 1}
    [day] = [d for d in DailyJournal(settings.replay_log_dir).days() if d != DAY]
    records = DailyJournal(settings.replay_log_dir).day(day).replay().records
    assert [r["verdict"] for r in records] == ["accepted", "invalid_json", "accepted"]
    assert records[0]["grounded"] is True and records[0]["task_id"] == "s1" and records[0]["model"] == "qwen3.5:latest"
    assert ollama.requests[0].body["model"] == "qwen3.5:latest"  # the local_fast tier
