"""One whole day, end to end: the demo's own activity through the real API (with a fake Ollama
answering the iterate call), then every daily asset of that day materialized in-process with its
checks: sessions, evidence, scores, the export, and the drift scores."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pyarrow.csv as pacsv
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import ApiSettings
from lakehouse_assets.core.sample.generate import generate_workers
from lakehouse_assets.core.settings import LakehouseSettings
from lakehouse_assets.definitions import build_definitions
from lakehouse_assets.demo_activity import generate_activity
from tests.fakes.llm_servers import FakeLLMServer

DAILY = [
    "iterate_sessions",
    "evidence_records",
    "scored_evidence",
    "sft_export",
    "dataset_drift",
    "embedding_drift",
    "scorer_drift",
    "playbook_drift",
]


def test_a_day_of_demo_activity_through_the_whole_daily_graph(tmp_path: Path, instance, ollama: FakeLLMServer):
    home = tmp_path / "lake"
    ollama.responder = lambda received: json.dumps({"to": "+13125550147", "body": "Your shift starts at 7am."})
    settings = ApiSettings(
        home=home, report_to_dagster=False, warm_embedder=False, ollama_host=ollama.url, _env_file=None
    )
    csv = io.BytesIO()
    pacsv.write_csv(generate_workers(1000, seed=7), csv)
    with TestClient(create_app(settings)) as client:
        assert (
            client.post(
                "/v1/ingest?name=workers", content=csv.getvalue(), headers={"content-type": "text/csv"}
            ).status_code
            == 201
        )
        calls = generate_activity("", client=client)
        client.app.state.services.observer.flush()
    assert calls["/v1/sql 200"] == 3 and calls["/v1/sql 400"] == 1
    assert calls["/v1/validate 200"] == 2 and calls["/v1/validate 422"] == 1
    assert calls["/v1/matrix/playbooks/record 201"] == 1 and calls["/v1/iterate 200"] == 1
    assert calls["/v1/pathway/traces 201"] == 1 and calls["/v1/observer/event 201"] == 3

    day = datetime.now(UTC).date().isoformat()
    defs = build_definitions(LakehouseSettings(home=home, _env_file=None))
    result = dg.materialize(
        [*(defs.get_assets_def(n) for n in DAILY), *defs.asset_checks],
        partition_key=day,
        instance=instance,
        resources=defs.resources,
        selection=dg.AssetSelection.assets(*DAILY),
        raise_on_error=False,
    )
    assert result.success

    def meta(name: str) -> dict:
        [m] = result.asset_materializations_for_node(name)
        return {k: v.value for k, v in m.metadata.items()}

    assert meta("iterate_sessions")["day_sessions"] == 1 and meta("iterate_sessions")["first_shot_rate"] == 1.0
    evidence = meta("evidence_records")
    assert evidence["observer_records"] >= 15 and evidence["iterate_records"] == 1 and evidence["playbook_records"] == 1
    assert meta("scored_evidence")["gold_records"] >= 1
    export = meta("sft_export")
    assert export["exported"] == 1  # the accepted, first-shot sms
    assert meta("dataset_drift")["dagster/row_count"] > 0
    assert meta("playbook_drift")["dagster/row_count"] == 1
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {
        "no_ungrounded_accepted_fill": True,
        "contamination_firewall": True,
        "dataset_columns_within_drift_thresholds": True,
        "embeddings_within_drift_thresholds": True,
        "scorer_within_drift_threshold": True,
        "playbooks_within_drift_threshold": True,
    }
