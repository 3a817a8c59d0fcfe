"""Retrieval end to end on the sample data: Dagster materializes corpora and embeddings in-process,
matrix search ranks workers (quality measured), playbooks move endorsed workers up, and the HTTP API
serves it all. The lake is built once for the module (embedding is the slow part)."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import duckdb
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import ApiSettings
from lakehouse_assets.core.lake.catalog import Catalog
from lakehouse_assets.core.lake.storage import open_storage
from lakehouse_assets.core.retrieval.corpora import WORKERS
from lakehouse_assets.core.vectors.embedder import ONNX_MODEL
from tests.defs.lakes import build_lake, materialize

ROWS = 1500


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Iterator[dict]:
    home = tmp_path_factory.mktemp("retrieval") / "lake"
    settings, defs = build_lake(home, ROWS)
    with dg.instance_for_test() as instance:
        runs = {
            "datasets": materialize(defs, instance, ["datasets"], "workers"),
            "playbook_memory": materialize(defs, instance, ["playbook_memory"], None),
            "workers": materialize(defs, instance, ["corpus_documents", "corpus_embeddings"], "workers"),
            "playbooks": materialize(defs, instance, ["corpus_documents", "corpus_embeddings"], "playbooks"),
        }
        yield {"settings": settings, "defs": defs, "instance": instance, "runs": runs}


@pytest.fixture(scope="module")
def client(lake) -> Iterator[TestClient]:
    settings = ApiSettings(home=lake["settings"].home, report_to_dagster=False, _env_file=None)
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture(scope="module")
def roster(lake) -> dict[str, dict]:
    catalog = Catalog(open_storage(lake["settings"]))
    path = lake["settings"].home / catalog.get("workers").object_key
    rows = duckdb.sql(f"SELECT * FROM read_parquet('{path}')").to_arrow_table().to_pylist()
    return {str(r["worker_id"]): r for r in rows}


def embeddings_event(result: dg.ExecuteInJobResult) -> dg.AssetMaterialization:
    return next(
        e.materialization
        for e in result.get_asset_materialization_events()
        if e.asset_key.path == ["corpus_embeddings"]
    )


def search(client: TestClient, **body):
    r = client.post("/v1/matrix/search", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def test_assets_materialize_embeddings_with_metadata_and_passing_checks(lake):
    runs = lake["runs"]
    assert all(r.success for r in runs.values())
    [event] = [
        e for e in runs["workers"].get_asset_materialization_events() if e.asset_key.path == ["corpus_embeddings"]
    ]
    md = event.materialization.metadata
    assert md["embedded"].value == ROWS and md["skipped"].value == 0 and md["deleted"].value == 0
    assert md["vectors"].value == ROWS and md["dimension"].value == 384 and md["model"].value == ONNX_MODEL
    checks = {e.check_name: e.passed for e in runs["workers"].get_asset_check_evaluations()}
    assert checks == {"vector_count_matches_documents": True, "embedding_dimension_matches": True}


def test_corpus_documents_are_a_sql_queryable_dataset(client):
    r = client.post("/v1/sql", json={"sql": "SELECT count(*), count(DISTINCT content_hash) FROM corpus_workers"})
    assert r.json()["rows"] == [[ROWS, ROWS]]
    r = client.post("/v1/sql", json={"sql": "SELECT text FROM corpus_workers WHERE worker_id = 1"})
    assert "Skills:" in r.json()["rows"][0][0]


def role_certification_queries(roster: dict[str, dict]) -> list[tuple[str, str, str]]:
    """(query, role, certification) for each role's most common certification held by >= 10 workers."""
    pairs: dict[tuple[str, str], int] = {}
    for w in roster.values():
        for cert in (w["certifications"] or "").split(";"):
            if cert:
                pairs[(w["role"], cert)] = pairs.get((w["role"], cert), 0) + 1
    best: dict[str, tuple[str, int]] = {}
    for (role, cert), n in pairs.items():
        if n >= 10 and n > best.get(role, ("", 0))[1]:
            best[role] = (cert, n)
    return [(f"{role} with {cert}", role, cert) for role, (cert, _) in sorted(best.items())]


def test_role_and_certification_queries_return_matching_workers(client, roster):
    """precision@10 over every role: hits must have the role AND hold the certification.

    The floor, 0.8, sits below the ~0.96 that dense search reaches on such queries (measured on a
    5,000-worker set, issue 8) to leave room for a smaller roster, yet far above chance: no role
    makes up more than ~10% of the sample, so ranking by anything but meaning would score < 0.2.
    """
    queries = role_certification_queries(roster)
    assert len(queries) >= 15
    precisions = []
    for query, role, cert in queries:
        hits = search(client, query=query, corpora=["workers"], k=10)["hits"]
        good = [
            h
            for h in hits
            if roster[h["entity_id"]]["role"] == role and cert in (roster[h["entity_id"]]["certifications"] or "")
        ]
        precisions.append(len(good) / 10)
    mean = sum(precisions) / len(precisions)
    print(f"precision@10 over {len(queries)} role+certification queries: {mean:.3f}")
    assert mean >= 0.8


def test_filters_exclusions_and_hit_shape(client, roster):
    body = search(
        client, query="forklift operator", corpora=["workers"], k=10, filter={"state": "IL", "hourly_rate": {"lte": 30}}
    )
    assert body["hits"], "expected forklift operators in Illinois"
    for h in body["hits"]:
        assert h["metadata"]["state"] == "IL" and h["metadata"]["hourly_rate"] <= 30
        assert h["corpus"] == "workers" and h["entity"] == "worker" and h["snippet"]
        assert abs(h["parts"]["dense"] - (1 - h["distance"])) < 1e-5 and h["why"] == []
    first = body["hits"][0]["entity_id"]
    again = search(
        client, query="forklift operator", corpora=["workers"], k=10, filter={"state": "IL"}, exclude_ids=[first]
    )
    assert first not in [h["entity_id"] for h in again["hits"]]
    shifts = search(client, query="warehouse work", k=10, filter={"shift": {"in": ["night", "weekend"]}})
    assert shifts["hits"] and all(h["metadata"]["shift"] in ("night", "weekend") for h in shifts["hits"])


def test_off_topic_queries_return_nothing_rather_than_noise(client):
    for query in ("dental hygienist", "software engineer fluent in kubernetes"):
        body = search(client, query=query, k=10)
        assert body["hits"] == []
        assert body["downgrade"]["strong_needed"] is True


def test_downgrade_gate_reads_the_result(client):
    confident = search(client, query="CDL truck driver with CDL Class A", corpora=["workers"], k=10)
    assert confident["downgrade"]["strong_needed"] is False and "consistent" in confident["downgrade"]["reason"]
    weak = search(client, query="dental hygienist", k=10, model="qwen3.5:latest")
    assert weak["downgrade"] == {
        "strong_needed": False,
        "model": "qwen3.5:latest",
        "reason": "qwen3.5:latest is in the weak-model list: the gate does not apply",
    }


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"query": ""}, 400, ["query is empty"]),
        ({"query": "welder", "k": 0}, 400, ["k"]),
        ({"query": "welder", "k": 201}, 400, ["k"]),
        ({"query": "welder", "corpora": ["nope"]}, 400, ["unknown corpus 'nope'"]),
        ({"query": "welder", "filter": {"shoe_size": 9}}, 400, ["shoe_size"]),
        ({"query": "welder", "corpora": ["workers"], "filter": {"state": {"near": "IL"}}}, 400, ["near"]),
        ({"query": "welder", "corpora": ["workers"], "filter": {"hourly_rate": {"lte": "cheap"}}}, 400, ["number"]),
    ],
)
def test_bad_searches_are_400_naming_the_problem(client, body, status, words):
    r = client.post("/v1/matrix/search", json=body)
    assert r.status_code == status, r.text
    for w in words:
        assert w in r.json()["message"]


def test_recorded_endorsement_moves_a_worker_up_for_a_paraphrase(client, roster):
    query = "experienced welder for structural steel fabrication"
    paraphrase = "skilled welder needed to fabricate steel structures"
    baseline = search(client, query=paraphrase, corpora=["workers"], k=50)["hits"]
    # A plausible but not top-ranked welder: the one in position 20.
    target = baseline[19]["entity_id"]
    rejected = baseline[0]["entity_id"]
    r = client.post(
        "/v1/matrix/playbooks/record",
        json={"query": query, "endorsed_ids": [target], "rejected_ids": [rejected], "outcome": "success"},
    )
    assert r.status_code == 201 and r.json()["recorded"] == 1 and r.json()["indexed"] == 1
    boosted = search(client, query=paraphrase, corpora=["workers"], k=50, use_playbook=True)
    ranks = {h["entity_id"]: i for i, h in enumerate(boosted["hits"])}
    assert boosted["playbooks_matched"] >= 1
    assert ranks[target] < 19, f"endorsed worker stayed at {ranks[target]}"
    assert ranks.get(rejected, 99) > 0
    hit = boosted["hits"][ranks[target]]
    assert 0 < hit["boost"] <= 0.15 and hit["why"][0]["effect"] == "endorsed" and hit["why"][0]["query"] == query
    unrelated = search(client, query="registered nurse in a hospital", corpora=["workers"], k=10, use_playbook=True)
    assert all(h["boost"] == 0 for h in unrelated["hits"])  # the playbook is not similar: no effect


def test_endorsed_workers_join_a_constrained_search_only_when_they_meet_its_constraints(client, roster):
    """The boost lifts endorsed workers who meet the query's constraints; one who does not (the ranking never
    reached them, so the boost looks them up) stays out: a search that parsed "in Texas" answers Texas workers
    only, however strongly someone was endorsed elsewhere."""
    query = "team player who enjoys fast paced physical work in Texas"
    everyone = search(client, query=query, corpora=["workers"], k=200, min_score=0)["hits"]
    assert len(everyone) > 60 and all(h["metadata"]["state"] == "TX" for h in everyone)
    inside = everyone[55]["entity_id"]  # meets the constraint, ranked just past what k=50 returns
    outside = next(str(w["worker_id"]) for w in roster.values() if w["state"] != "TX")
    r = client.post("/v1/matrix/playbooks/record", json={"query": query, "endorsed_ids": [inside, outside]})
    assert r.status_code == 201, r.text
    boosted = search(client, query=query, corpora=["workers"], k=50, min_score=0, use_playbook=True)
    by_id = {h["entity_id"]: h for h in boosted["hits"]}
    assert inside in by_id and by_id[inside]["boost"] > 0 and "state = TX" in by_id[inside]["meets"]
    assert outside not in by_id and all(h["metadata"]["state"] == "TX" for h in boosted["hits"])


def test_playbook_records_are_logged_and_the_asset_rebuilds_memory_from_the_log(client, lake):
    bulk = {
        "records": [
            {"query": "night shift forklift operator", "endorsed_ids": [3, 4], "outcome": "partial"},
            {
                "query": "bilingual CNA for home care",
                "endorsed_ids": ["7"],
                "rejected_ids": ["8"],
                "contract_id": "c-1",
            },
        ]
    }
    r = client.post("/v1/matrix/playbooks/record", json=bulk)
    assert r.status_code == 201 and r.json()["recorded"] == 2
    for bad in (
        {"query": "x"},
        {"query": " ", "endorsed_ids": [1]},
        {"query": "x", "endorsed_ids": [1], "rejected_ids": [1]},
    ):
        assert client.post("/v1/matrix/playbooks/record", json=bad).status_code == 400
    log_lines = lake["settings"].playbook_log_path.read_text().splitlines()
    assert len(log_lines) >= 3
    defs, instance = lake["defs"], lake["instance"]
    memory = materialize(defs, instance, ["playbook_memory"], None)
    assert memory.success
    md = memory.get_asset_materialization_events()[0].materialization.metadata
    assert md["dagster/row_count"].value == len(log_lines) and md["skipped_lines"].value == 0
    reindex = materialize(defs, instance, ["corpus_documents", "corpus_embeddings"], "playbooks")
    md = embeddings_event(reindex).metadata
    # Recorded online with the same corpus SQL: the asset finds them embedded already.
    assert md["embedded"].value == 0 and md["skipped"].value == len(log_lines)


def test_reembedding_after_a_one_percent_change_touches_only_that_percent(tmp_path):
    settings, defs = build_lake(tmp_path / "lake", 1000)
    with dg.instance_for_test() as instance:
        assert materialize(defs, instance, ["datasets"], "workers").success
        assert materialize(defs, instance, ["playbook_memory"], None).success
        assert materialize(defs, instance, ["corpus_documents", "corpus_embeddings"], "workers").success
        path = settings.home / "landing" / "workers.csv"
        table = duckdb.sql(f"SELECT * FROM read_csv('{path}', all_varchar=true)").to_arrow_table().to_pylist()
        for row in table[:8]:  # 8 changed, 2 removed: 1% of the roster
            row["availability"] = "unavailable" if row["availability"] != "unavailable" else "available"
        del table[500:502]
        import pyarrow as pa
        import pyarrow.csv as pacsv

        pacsv.write_csv(pa.Table.from_pylist(table), path)
        assert materialize(defs, instance, ["datasets"], "workers").success
        run = materialize(defs, instance, ["corpus_documents", "corpus_embeddings"], "workers")
    assert run.success
    md = embeddings_event(run).metadata
    assert (md["embedded"].value, md["deleted"].value, md["skipped"].value) == (8, 2, 990)
    assert md["vectors"].value == 998
    assert WORKERS.index == md["index"].value
