"""Search is right from the first second of an index's life: the API answers searches in a loop while
another process (a Dagster run of `corpus_instant_embeddings`, then `corpus_embeddings`) writes the
workers' indexes through a Chroma server.

Before the run starts no index exists; then the instant tier's index fills (the static model) and
answers; then the full model's index fills, and search switches to it by itself once it holds every
document. At every point: no 5xx, every constrained query whose constraints some worker meets gets hits,
and the response says how much of the corpus was ranked by meaning, and by which model.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.csv as pacsv
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import ApiSettings
from lakehouse_assets.core.sample.generate import generate_workers
from lakehouse_assets.core.vectors.embedder import ONNX_MODEL, STATIC_MODEL
from tests.chroma_server import run_chroma_server

ROWS = 2500
CONSTRAINED = [
    "forklift operator in Illinois",
    "welder in Ohio with at least 10 years",
    "registered nurse on the night shift",
    "warehouse associate who speaks Spanish",
]
FREE = "drives a truck across the country"  # nothing parsed: meaning and keywords only

BUILD = """
import dagster as dg
from lakehouse_assets.core.settings import LakehouseSettings
from lakehouse_assets.definitions import build_definitions

defs = build_definitions(LakehouseSettings())
with dg.instance_for_test() as instance:
    result = dg.materialize(
        [defs.get_assets_def(n) for n in ("corpus_documents", "corpus_instant_embeddings", "corpus_embeddings")],
        partition_key="workers", instance=instance, resources=defs.resources,
    )
    assert result.success
"""


@pytest.mark.timeout(900)
def test_searches_during_an_index_build_in_another_process_never_fail_and_answer_constraints(tmp_path: Path):
    home = tmp_path / "lake"
    with run_chroma_server(tmp_path / "chroma") as chroma_url:
        settings = ApiSettings(
            home=home,
            chroma_url=chroma_url,
            report_to_dagster=False,
            search_vectors_sync_max=500,  # the index is followed by the background reader, as a large one is
            search_vectors_follow_seconds=0.2,
            catalog_refresh_seconds=0.1,
            _env_file=None,
        )
        csv = io.BytesIO()
        pacsv.write_csv(generate_workers(ROWS, seed=19), csv)
        with TestClient(create_app(settings)) as api:
            ingest = api.post("/v1/ingest?name=workers", content=csv.getvalue(), headers={"content-type": "text/csv"})
            assert ingest.status_code == 201, ingest.text
            env = {**os.environ, "LAKEHOUSE_HOME": str(home), "LAKEHOUSE_CHROMA_URL": chroma_url}
            env.pop("LAKEHOUSE_ENV_FILE", None)
            log = (tmp_path / "build.log").open("w")
            build = subprocess.Popen([sys.executable, "-c", BUILD], env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                failures, empty, states, models, rounds = [], [], [], [], 0
                first_dense_hit = None
                started = time.monotonic()
                after = 0
                while after < 3:  # until the build is over, then three more rounds over the complete index
                    if build.poll() is not None:
                        after += 1
                    rounds += 1
                    time.sleep(0.2)  # a recruiter's pace, not a tight loop that starves the build of CPU
                    for query in [*CONSTRAINED, FREE]:
                        r = api.post("/v1/matrix/search", json={"query": query, "k": 5, "corpora": ["workers"]})
                        if r.status_code >= 500 or r.status_code != 200:
                            failures.append((query, r.status_code, r.text[:300]))
                            continue
                        body = r.json()
                        states.append(body["index"]["state"])
                        models.append(body["index"]["model"])
                        if query in CONSTRAINED and body["admitted"] and not body["hits"]:
                            empty.append((query, body["index"], body["shortfall"]))
                        if query in CONSTRAINED:
                            assert all(not h["violates"] for h in body["hits"]), body
                        # the instant index stores vectors only: its hits' text comes from the frame
                        assert all(h["snippet"] for h in body["hits"]), body
                        if first_dense_hit is None and any(h["similarity"] is not None for h in body["hits"]):
                            first_dense_hit = time.monotonic() - started
                assert build.wait(timeout=600) == 0, (tmp_path / "build.log").read_text()[-3000:]
            finally:
                if build.poll() is None:
                    build.kill()
                log.close()

            assert failures == [], failures
            assert empty == [], empty
            assert states[0] == "empty" and "ready" in states[-5:], states
            assert "building" in states or "loading" in states, sorted(set(states))  # seen partway through
            assert first_dense_hit is not None
            # the instant tier answered first, then the full model, and never the other way back
            answered = [m for i, m in enumerate(models) if i == 0 or m != models[i - 1]]
            assert answered[-2:] == [STATIC_MODEL, ONNX_MODEL], answered
            final = api.post("/v1/matrix/search", json={"query": CONSTRAINED[0], "k": 5}).json()
            assert final["index"]["state"] == "ready" and final["index"]["embedded"] == ROWS
            assert final["hits"] and all(h["similarity"] is not None for h in final["hits"])
            assert rounds > 3
