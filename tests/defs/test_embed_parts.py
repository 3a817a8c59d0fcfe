"""Embedding one corpus in parts, each part a step the multiprocess executor runs in a process of its
own, all writing into one Chroma server: the index is the one a single process builds."""

from __future__ import annotations

from pathlib import Path

import chromadb
import dagster as dg
import duckdb
import numpy as np
import pytest

from lakehouse_assets.core.retrieval.corpora import corpus_spec, documents_table
from lakehouse_assets.core.vectors.indexing import sync_index
from lakehouse_assets.resources import EmbedderResource
from tests.chroma_server import run_chroma_server
from tests.defs.embed_parts_job import corpus_embeddings_job
from tests.defs.lakes import build_lake, materialize

ROWS = 5_000


def _index(client: chromadb.HttpClient, name: str) -> dict[str, tuple[str, np.ndarray]]:
    got = client.get_collection(name).get(include=["embeddings", "metadatas"])
    rows = zip(got["ids"], got["metadatas"], got["embeddings"], strict=True)
    return {i: (m["content_hash"], np.asarray(e)) for i, m, e in rows}


@pytest.mark.timeout(600)
def test_two_processes_embed_a_corpus_into_the_index_one_process_builds(tmp_path: Path, monkeypatch):
    with run_chroma_server(tmp_path / "chroma") as chroma_url:
        home = tmp_path / "lake"
        overrides = {"chroma_url": chroma_url, "embedder_backend": "static", "embed_parts": 2}
        settings, defs = build_lake(home, ROWS, **overrides)
        with dg.instance_for_test() as instance:
            assert materialize(defs, instance, ["datasets"], "workers").success
            built = materialize(defs, instance, ["corpus_documents"], "workers")
            assert built.success

            for name, value in [("HOME", home), ("CHROMA_URL", chroma_url), ("EMBEDDER_BACKEND", "static"),
                                ("EMBED_PARTS", 2)]:  # fmt: skip
                monkeypatch.setenv(f"LAKEHOUSE_{name}", str(value))  # each step's process builds its own settings
            monkeypatch.delenv("LAKEHOUSE_ENV_FILE", raising=False)
            run = dg.execute_job(
                dg.reconstructable(corpus_embeddings_job),
                instance=instance,
                tags={"dagster/partition": "workers"},
                run_config={"execution": {"config": {"multiprocess": {"max_concurrent": 2}}}},
            )
            assert run.success
            steps = {e.step_key for e in run.all_events if e.is_step_success}
            assert {f"corpus_embeddings.embed_embeddings_part[part_{n}]" for n in (0, 1)} <= steps
            [materialization] = run.asset_materializations_for_node("corpus_embeddings")
            meta = {k: v.value for k, v in materialization.metadata.items()}
            assert meta["parts"] == 2 and meta["processes"] == 2, meta  # each part in a process of its own
            assert meta["embedded"] == ROWS and meta["vectors"] == ROWS, meta

        # the same documents, embedded by one process into another index
        spec = corpus_spec("workers")
        documents = documents_table(spec, duckdb.connect(), lake=defs.resources["lake"].open())
        store = defs.resources["vector_store"].get()
        one = sync_index("workers-one-process", documents, spec.metadata,
                         embedder=EmbedderResource.from_settings(settings).get().inner, store=store)  # fmt: skip
        assert one.embedded == ROWS

        client = chromadb.HttpClient(host="127.0.0.1", port=int(chroma_url.rsplit(":", 1)[1]))
        in_parts, in_one = _index(client, spec.index), _index(client, "workers-one-process")
        assert in_parts.keys() == in_one.keys() and len(in_parts) == ROWS
        assert all(in_parts[i][0] == in_one[i][0] for i in in_one)  # content hashes
        a = np.stack([in_parts[i][1] for i in sorted(in_one)])
        b = np.stack([in_one[i][1] for i in sorted(in_one)])
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_parts_without_a_chroma_server_are_refused_before_anything_is_written(tmp_path: Path):
    _, defs = build_lake(tmp_path / "lake", 1000, embed_parts=2)
    with dg.instance_for_test() as instance:
        assert materialize(defs, instance, ["datasets"], "workers").success
        assert materialize(defs, instance, ["corpus_documents"], "workers").success
        result = materialize(defs, instance, ["corpus_embeddings"], "workers")
        assert not result.success
        [failure] = [e for e in result.all_events if e.is_step_failure]
        assert "LAKEHOUSE_EMBED_PARTS=2 needs a Chroma server" in str(failure.step_failure_data.error)
    assert [i for i in defs.resources["vector_store"].get().list_indexes() if i.name == "workers"] == []
