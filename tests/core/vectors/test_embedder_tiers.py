"""The built tiers of the embedder: all-MiniLM-L6-v2 as int8 ONNX (`onnx`) and distilled to a static
model (`static`), each built from the shipped weights into a models folder, once, and reused.

Real models throughout. The int8 export is built once for the whole session, by two processes racing
on an empty models folder (about 10 s here); the static distillation (about 25 s) once too. Both land
in one session-wide temporary models folder that every test here reads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import lakehouse_assets.core.vectors.embedder.onnx_int8 as onnx_mod
import lakehouse_assets.core.vectors.embedder.static as static_mod
from lakehouse_assets.core.sample.generate import generate_workers
from lakehouse_assets.core.settings import LakehouseSettings
from lakehouse_assets.core.vectors.embedder import (
    LOCAL_DIMENSION,
    LOCAL_MODEL,
    ONNX_MODEL,
    STATIC_DIMENSION,
    STATIC_MODEL,
    CachedEmbedder,
    EmbeddingError,
    EmptyText,
    LocalEmbedder,
    OnnxEmbedder,
    StaticEmbedder,
    embedder_from_settings,
    ensure_artifact,
    ensure_int8,
    ensure_static,
    instant_embedder,
    local_model_path,
    open_embedder,
    torch_device,
)
from lakehouse_assets.core.vectors.embedder.artifacts import MANIFEST, read_manifest
from lakehouse_assets.resources import EmbedderResource

pytestmark = pytest.mark.timeout(600)

QUERIES = [
    "forklift operator with OSHA 30",
    "CNA on the night shift",
    "welder in Ohio with at least 10 years",
    "Spanish speaking warehouse associate",
    "registered nurse with less than 3 years",
    "dental hygienist",
]

RACER = textwrap.dedent(
    """
    import json, sys
    from lakehouse_assets.core.vectors.embedder import OnnxEmbedder, ensure_int8
    path, built = ensure_int8(sys.argv[1])
    vector = OnnxEmbedder(sys.argv[1]).embed_one("forklift operator")
    print(json.dumps({"built": built, "path": str(path), "vector": vector.tolist()}))
    """
)


def staffing_texts(n: int = 40) -> list[str]:
    """Worker documents as the workers corpus writes them (role. Skills: ... Certifications: ...)."""
    rows = generate_workers(1_000).select(["role", "skills", "certifications"]).to_pylist()
    docs: list[str] = []
    for r in rows:
        certs = (r["certifications"] or "").replace(";", ", ") or "none"
        doc = f"{r['role']}. Skills: {r['skills'].replace(';', ', ')}. Certifications: {certs}"
        if doc not in docs:
            docs.append(doc)
        if len(docs) == n:
            break
    return docs


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def raced(models_dir: Path) -> list[dict[str, Any]]:
    """Two processes opening the int8 embedder on the same empty models folder at the same moment."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(models_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
        for _ in range(2)
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=540)
        assert p.returncode == 0, err.decode()[-3000:]
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    return results


@pytest.fixture(scope="module")
def int8(raced: list[dict[str, Any]], models_dir: Path) -> OnnxEmbedder:
    embedder = OnnxEmbedder(models_dir)
    embedder.embed(["warm up"])
    return embedder


@pytest.fixture(scope="module")
def fp32() -> LocalEmbedder:
    embedder = LocalEmbedder()
    embedder.embed(["warm up"])
    return embedder


@pytest.fixture(scope="module")
def static(models_dir: Path) -> StaticEmbedder:
    embedder = StaticEmbedder(models_dir)
    embedder.embed(["warm up"])  # distils into models_dir (once per session)
    return embedder


def _unit(vectors: np.ndarray) -> bool:
    return bool(np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5))


def _artifacts(models_dir: Path, name: str) -> list[Path]:
    return sorted(p for p in models_dir.iterdir() if p.name.startswith(f"{name}-"))


# -- int8 ONNX ----------------------------------------------------------------------------------


def test_two_processes_racing_on_first_use_export_once_and_agree(raced: list[dict[str, Any]], models_dir: Path) -> None:
    assert sorted(r["built"] for r in raced) == [False, True]  # one exported, the other waited and loaded it
    assert raced[0]["path"] == raced[1]["path"]
    np.testing.assert_allclose(raced[0]["vector"], raced[1]["vector"], atol=1e-6)
    [folder] = _artifacts(models_dir, ONNX_MODEL)
    assert folder.name.startswith(f"{ONNX_MODEL}-") and (folder / "model.onnx").is_file()
    assert not [p for p in models_dir.iterdir() if p.name.endswith(".tmp")]  # no half-built folder left behind
    manifest = read_manifest(folder)
    assert manifest is not None and manifest["model"] == ONNX_MODEL and manifest["recipe"] == onnx_mod.INT8_RECIPE
    assert "model.fp32.onnx" not in os.listdir(folder)  # only the int8 graph is kept


def test_a_second_open_reuses_the_cached_export(int8: OnnxEmbedder, models_dir: Path) -> None:
    folder = int8.artifact
    mtime = (folder / "model.onnx").stat().st_mtime_ns
    exports = onnx_mod.exports
    again = OnnxEmbedder(models_dir, batch_size=8)
    assert again.embed(["forklift operator", "welder"]).shape == (2, LOCAL_DIMENSION)
    assert ensure_int8(models_dir) == (folder, False)
    assert onnx_mod.exports == exports  # nothing exported again
    assert (folder / "model.onnx").stat().st_mtime_ns == mtime


def test_int8_vectors_are_unit_384_d_and_close_to_fp32(int8: OnnxEmbedder, fp32: LocalEmbedder) -> None:
    texts = [*staffing_texts(40), *QUERIES]
    vectors = int8.embed(texts)
    assert vectors.shape == (len(texts), 384) and vectors.dtype == np.float32
    assert _unit(vectors)
    cosines = np.sum(vectors * fp32.embed(texts), axis=1)
    assert cosines.min() > 0.98, list(zip(texts, cosines.round(4), strict=True))
    assert cosines.mean() > 0.99
    singles = np.stack([int8.embed_one(q) for q in QUERIES])  # the direct path, as a search query takes it
    assert np.sum(singles * fp32.embed(QUERIES), axis=1).min() > 0.98


def test_int8_keeps_paraphrases_closer_than_unrelated_jobs(int8: OnnxEmbedder) -> None:
    query, paraphrase, unrelated = int8.embed(
        ["forklift operator, warehouse", "forklift driver in a distribution center", "registered nurse in a hospital"]
    )
    assert float(query @ paraphrase) > float(query @ unrelated) + 0.2


def test_int8_is_deterministic_and_batches_keep_input_order(int8: OnnxEmbedder) -> None:
    texts = staffing_texts(12)
    np.testing.assert_array_equal(int8.embed(texts), int8.embed(texts))
    shuffled = texts[::-1]
    np.testing.assert_allclose(int8.embed(shuffled)[::-1], int8.embed(texts), atol=1e-6)
    small = OnnxEmbedder(int8.models_dir, batch_size=3).embed(texts)  # other batches: activations scale per call
    assert np.sum(small * int8.embed(texts), axis=1).min() > 0.98


def test_int8_token_counts_match_the_models_tokenizer_truncated_at_256(int8: OnnxEmbedder, fp32: LocalEmbedder) -> None:
    texts = [*staffing_texts(20), "forklift " * 400]
    counts = int8.token_counts(texts)
    assert counts == fp32.token_counts(texts)  # sentence-transformers' tokenizer, special tokens in
    assert counts[-1] == 256 and len(set(counts[:-1])) > 3


def test_int8_token_counts_need_no_export(tmp_path: Path) -> None:
    embedder = OnnxEmbedder(tmp_path / "untouched")
    assert embedder.token_counts(["forklift operator"]) == [5]  # [CLS] fork ##lift operator [SEP]
    assert not (tmp_path / "untouched").exists()


def test_int8_rejects_empty_text_and_returns_zero_rows_for_no_texts(int8: OnnxEmbedder) -> None:
    with pytest.raises(EmptyText, match="text 1"):
        int8.embed(["welder", " "])
    assert int8.embed([]).shape == (0, 384)


def test_int8_runs_on_the_cpu_provider_here(int8: OnnxEmbedder) -> None:
    import onnxruntime as ort

    expected = (
        "CUDAExecutionProvider" if "CUDAExecutionProvider" in ort.get_available_providers() else "CPUExecutionProvider"
    )
    assert int8.providers[0] == expected
    assert int8.threads >= 1


# -- static -------------------------------------------------------------------------------------


def test_static_vectors_are_unit_rows_of_its_dimension(static: StaticEmbedder) -> None:
    texts = [*staffing_texts(30), *QUERIES]
    vectors = static.embed(texts)
    assert static.model == STATIC_MODEL and static.dimension == STATIC_DIMENSION
    assert vectors.shape == (len(texts), STATIC_DIMENSION) and vectors.dtype == np.float32
    assert _unit(vectors)


def test_static_is_deterministic_across_calls_batches_and_instances(static: StaticEmbedder, models_dir: Path) -> None:
    texts = staffing_texts(20)
    first = static.embed(texts)
    np.testing.assert_array_equal(static.embed(texts), first)
    np.testing.assert_allclose(np.stack([static.embed_one(t) for t in texts]), first, atol=1e-6)
    np.testing.assert_array_equal(StaticEmbedder(models_dir, batch_size=4).embed(texts), first)


def test_static_is_distilled_once_and_reused(static: StaticEmbedder, models_dir: Path) -> None:
    [folder] = _artifacts(models_dir, STATIC_MODEL)
    assert static.artifact == folder
    manifest = read_manifest(folder)
    assert (
        manifest is not None
        and manifest["dimension"] == STATIC_DIMENSION
        and manifest["recipe"] == static_mod.STATIC_RECIPE
    )
    mtime = (folder / MANIFEST).stat().st_mtime_ns
    distills = static_mod.distills
    assert ensure_static(models_dir) == (folder, False)
    StaticEmbedder(models_dir).embed(["welder"])
    assert static_mod.distills == distills == 1
    assert (folder / MANIFEST).stat().st_mtime_ns == mtime
    assert static.static_model() is StaticEmbedder(models_dir).static_model()  # loaded once per process


def test_static_ranks_the_right_role_first(static: StaticEmbedder) -> None:
    docs = [
        "forklift operator. Skills: pallet jack, RF scanning. Certifications: OSHA 10, forklift certification",
        "registered nurse. Skills: patient care, IV therapy. Certifications: BLS, ACLS",
        "line cook. Skills: grill station, prep cooking. Certifications: ServSafe Food Handler",
    ]
    scores = static.embed(["nurse with ACLS"]) @ static.embed(docs).T
    assert int(np.argmax(scores)) == 1


def test_static_text_of_unknown_tokens_still_gets_a_unit_vector(static: StaticEmbedder) -> None:
    vectors = static.embed(["☃☃ 🙂", "welder"])
    assert _unit(vectors)


def test_static_token_counts_are_its_tokenizers(static: StaticEmbedder) -> None:
    texts = ["forklift operator", "welder with MIG and TIG certifications", "a"]
    counts = static.token_counts(texts)
    assert counts == [len(ids) for ids in static.static_model().tokenize(texts)]
    assert counts[1] > counts[0] > counts[2] >= 1


# -- threads -------------------------------------------------------------------------------------


@pytest.mark.parametrize("tier", ["int8", "static"])
def test_counting_and_embedding_from_many_threads_never_fail(tier: str, request: pytest.FixtureRequest) -> None:
    """Searches embed queries while indexing counts tokens and embeds batches, all on one model."""
    import threading

    embedder = request.getfixturevalue(tier)
    docs = staffing_texts(40)
    expected_vector = embedder.embed_one("forklift operator in IL")
    expected_counts = embedder.token_counts(docs)
    errors: list[str] = []

    def run(job: Any) -> None:
        for _ in range(30):
            try:
                job()
            except Exception as e:
                errors.append(repr(e))

    jobs = [
        lambda: np.testing.assert_allclose(embedder.embed_one("forklift operator in IL"), expected_vector, atol=1e-6),
        lambda: assert_equal(embedder.token_counts(docs), expected_counts),
        lambda: embedder.embed(docs),
    ]
    threads = [threading.Thread(target=run, args=(job,)) for job in jobs * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def assert_equal(got: Any, expected: Any) -> None:
    assert got == expected


# -- backends by name ---------------------------------------------------------------------------


def test_each_backend_reports_its_own_model_name(models_dir: Path) -> None:
    names = {
        open_embedder("local").model,
        open_embedder("onnx", models_dir=models_dir).model,
        open_embedder("static", models_dir=models_dir).model,
        open_embedder("ollama").model,
    }
    assert names == {LOCAL_MODEL, ONNX_MODEL, STATIC_MODEL, "ollama/nomic-embed-text"}  # four, all distinct


def test_open_embedder_builds_each_tier_behind_the_cache(
    models_dir: Path, int8: OnnxEmbedder, static: StaticEmbedder
) -> None:
    for backend, inner in (("onnx", OnnxEmbedder), ("static", StaticEmbedder)):
        cached = open_embedder(backend, models_dir=models_dir, cache_size=5)
        assert isinstance(cached, CachedEmbedder) and isinstance(cached.inner, inner) and cached.capacity == 5
        cached.embed(["welder", "welder", "nurse"])
        cached.embed(["welder"])
        assert (cached.hits, cached.misses) == (1, 3)
    with pytest.raises(EmbeddingError, match=r"onnx backend only has all-MiniLM-L6-v2-int8"):
        open_embedder("onnx", model="nomic-embed-text", models_dir=models_dir)
    assert open_embedder("onnx", model=LOCAL_MODEL, models_dir=models_dir).model == ONNX_MODEL


def test_settings_choose_the_backend_and_the_models_folder(
    tmp_path: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LAKEHOUSE_EMBED_MODELS_DIR", raising=False)
    settings = LakehouseSettings(_env_file=None, home=tmp_path, embedder_backend="onnx", embed_threads=1)
    embedder = embedder_from_settings(settings)
    assert isinstance(embedder.inner, OnnxEmbedder)
    assert embedder.inner.models_dir == tmp_path / "models" and embedder.inner.threads == 1
    custom = LakehouseSettings(_env_file=None, home=tmp_path, embedder_backend="static", embed_models_dir=models_dir)
    assert embedder_from_settings(custom).inner.models_dir == models_dir  # type: ignore[attr-defined]


def test_instant_embedder_is_the_static_tier_whatever_the_backend(tmp_path: Path, models_dir: Path) -> None:
    settings = LakehouseSettings(_env_file=None, home=tmp_path, embedder_backend="local", embed_models_dir=models_dir)
    instant = instant_embedder(settings)
    assert isinstance(instant.inner, StaticEmbedder) and instant.model == STATIC_MODEL
    assert instant.embed(["welder"]).shape == (1, STATIC_DIMENSION)
    assert embedder_from_settings(settings).model == LOCAL_MODEL


def test_the_resource_accepts_the_new_backends(models_dir: Path) -> None:
    for backend in ("onnx", "static"):
        resource = EmbedderResource(backend=backend, models_dir=str(models_dir))
        assert resource.get() is EmbedderResource(backend=backend, models_dir=str(models_dir)).get()
        assert resource.get().inner.models_dir == models_dir  # type: ignore[attr-defined]
    assert EmbedderResource(backend="onnx", models_dir=str(models_dir), threads=1).get() is not (
        EmbedderResource(backend="onnx", models_dir=str(models_dir)).get()
    )


def test_the_instant_resource_is_the_static_tier(models_dir: Path) -> None:
    settings = LakehouseSettings(
        _env_file=None, embedder_backend="onnx", embed_models_dir=models_dir, embed_cache_size=9
    )
    resource = EmbedderResource.instant_from_settings(settings)
    assert (resource.backend, resource.models_dir, resource.cache_size) == ("static", str(models_dir), 9)
    assert resource.get().model == STATIC_MODEL
    assert EmbedderResource.from_settings(settings).backend == "onnx"


def test_local_runs_on_the_device_torch_offers(fp32: LocalEmbedder) -> None:
    assert fp32.device.split(":")[0] == torch_device()


# -- the artifact folder ------------------------------------------------------------------------


def test_a_failed_build_leaves_nothing_and_the_next_call_builds(tmp_path: Path) -> None:
    def failing(folder: Path) -> dict[str, Any]:
        (folder / "partial.bin").write_bytes(b"half")
        raise RuntimeError("killed mid-export")

    with pytest.raises(RuntimeError, match="killed"):
        ensure_artifact(tmp_path, "thing", "k1", failing)
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []

    def good(folder: Path) -> dict[str, Any]:
        (folder / "model.bin").write_bytes(b"whole")
        return {"size": 5}

    folder, built = ensure_artifact(tmp_path, "thing", "k1", good)
    assert built and (folder / "model.bin").read_bytes() == b"whole"
    assert read_manifest(folder)["size"] == 5  # type: ignore[index]
    assert ensure_artifact(tmp_path, "thing", "k1", failing) == (folder, False)  # not rebuilt


def test_losing_the_rename_race_keeps_the_winners_artifact(tmp_path: Path) -> None:
    """Where the filesystem has no locks, two builders can both finish: the first rename wins."""

    def racing(folder: Path) -> dict[str, Any]:
        winner = tmp_path / "thing-k2"  # another process publishes while this one builds
        winner.mkdir()
        (winner / "model.bin").write_bytes(b"winner")
        (winner / MANIFEST).write_text(json.dumps({"by": "winner"}))
        (folder / "model.bin").write_bytes(b"loser")
        return {"by": "loser"}

    folder, built = ensure_artifact(tmp_path, "thing", "k2", racing)
    assert (folder, built) == (tmp_path / "thing-k2", False)
    assert (folder / "model.bin").read_bytes() == b"winner"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_missing_source_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingError, match=r"no model\.safetensors"):
        ensure_int8(tmp_path / "models", source=str(tmp_path))
    assert Path(local_model_path(), "model.safetensors").is_file()


def test_build_artifacts_gives_the_folders_the_settings_embed_from(
    tmp_path: Path, models_dir: Path, int8: OnnxEmbedder, static: StaticEmbedder
) -> None:
    """What `lakehouse demo` and `lakehouse up` run before the services start: the folders the embedders
    load from (already built here by the fixtures, so found, not rebuilt), and only the static one for `local`."""
    from lakehouse_assets.core.vectors.embedder import build_artifacts

    onnx = LakehouseSettings(_env_file=None, home=tmp_path, embedder_backend="onnx", embed_models_dir=models_dir)
    built = build_artifacts(onnx)
    assert len(built) == 2 and build_artifacts(onnx) == built
    assert {p.name.rsplit("-", 1)[0] for p in built} == {STATIC_MODEL, ONNX_MODEL}
    assert all(p.is_dir() and p.parent == models_dir for p in built)
    fp32 = LakehouseSettings(_env_file=None, home=tmp_path, embedder_backend="local", embed_models_dir=models_dir)
    assert [p.name.rsplit("-", 1)[0] for p in build_artifacts(fp32)] == [STATIC_MODEL]
