"""Embeddings: the local all-MiniLM-L6-v2 model, the LRU cache, the Ollama backend against a fake
Ollama server over real HTTP, backend selection, and the Dagster resource.

The local model loads once for the whole module (about 10-20 s on these machines); everything
else uses fakes so the file stays fast.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import dagster as dg
import numpy as np
import pydantic
import pytest

import lakehouse_assets.core.vectors.embedder as embedder_mod
import lakehouse_assets.core.vectors.embedder.local as local_mod
import lakehouse_assets.resources.embedder as resource_mod
from lakehouse_assets.core.settings import LakehouseSettings
from lakehouse_assets.core.vectors.embedder import (
    LOCAL_DIMENSION,
    LOCAL_MODEL,
    ONNX_MODEL,
    CachedEmbedder,
    Embedder,
    EmbeddingError,
    EmptyText,
    LocalEmbedder,
    OllamaEmbedder,
    embedder_from_settings,
    open_embedder,
)
from lakehouse_assets.resources import EmbedderResource

FORKLIFT = "forklift operator, warehouse"
FORKLIFT_PARAPHRASE = "forklift driver in a distribution center"
NURSE = "registered nurse in a hospital"


# -- fixtures and fakes -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def local() -> LocalEmbedder:
    """The real model, loaded once for the module (the process-wide cache keeps it afterwards)."""
    embedder = LocalEmbedder()
    embedder.embed(["warm up"])
    return embedder


def _fake_vector(model: str, text: str, dimension: int, scale: float = 1.0) -> list[float]:
    """A deterministic, deliberately unnormalized vector for (model, text)."""
    seed = int.from_bytes(hashlib.sha256(f"{model}\0{text}".encode()).digest()[:8], "little")
    return (np.random.default_rng(seed).normal(size=dimension) * scale).tolist()


class CountingEmbedder(Embedder):
    """A fake inner embedder that records every call it receives."""

    def __init__(self, model: str = "fake-a", dimension: int = 4) -> None:
        self.model = model
        self.dimension = dimension
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        rows = [_fake_vector(self.model, t, self.dimension) for t in texts]
        return embedder_mod.unit_rows(np.asarray(rows))


@dataclass
class FakeOllama:
    """State of the fake server: the models it has, the requests it received, its misbehaviours."""

    models: dict[str, int] = field(default_factory=lambda: {"nomic-embed-text": 768, "tiny-embed": 8})
    short_models: set[str] = field(default_factory=set)  # answer with one vector too few
    ragged_models: set[str] = field(default_factory=set)  # vectors of unequal length
    widening_models: set[str] = field(default_factory=set)  # one column more on every request
    dropping_models: set[str] = field(default_factory=set)  # close the connection mid-response
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    port: int = 0

    def embed_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == "/api/embed"]


def _handler_for(state: FakeOllama) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        """Speaks the part of Ollama's HTTP API that `ollama.Client.embed` uses."""

        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
            pass

        def _send(self, status: int, body: bytes, content_type: str = "application/json; charset=utf-8") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            self._send(status, json.dumps(payload).encode())

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            payload = json.loads(raw) if raw else {}
            state.requests.append({"path": self.path, "json": payload})
            if self.path != "/api/embed":
                self._send(404, b"404 page not found", "text/plain")
                return
            name = payload.get("model", "")
            if name not in state.models:
                self._json(404, {"error": f"model '{name}' not found"})
                return
            texts = payload.get("input", "")
            texts = [texts] if isinstance(texts, str) else list(texts)
            if name in state.dropping_models:
                self.wfile.write(b'HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{"model"')
                self.close_connection = True
                return
            dimension = state.models[name]
            if name in state.widening_models:
                dimension += len(state.embed_requests()) - 1
            vectors = [_fake_vector(name, t, dimension, scale=3.0) for t in texts]
            if name in state.short_models:
                vectors = vectors[:-1]
            if name in state.ragged_models:
                vectors[-1] = vectors[-1][:-1]
            self._json(
                200,
                {
                    "model": name,
                    "embeddings": vectors,
                    "total_duration": 1_000_000,
                    "load_duration": 100_000,
                    "prompt_eval_count": len(texts),
                },
            )

    return Handler


@pytest.fixture
def fake_ollama(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOllama]:
    """A fake Ollama server on 127.0.0.1 and a free port, in a thread, over real HTTP."""
    for var in ("OLLAMA_HOST", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    state = FakeOllama()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(state))
    server.daemon_threads = True
    state.port = server.server_address[1]
    state.url = f"http://127.0.0.1:{state.port}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="fake-ollama", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def fresh_resource_cache(monkeypatch: pytest.MonkeyPatch) -> dict[Any, CachedEmbedder]:
    """An empty process-wide embedder cache for the resource, restored afterwards."""
    cache: dict[Any, CachedEmbedder] = {}
    monkeypatch.setattr(resource_mod, "_embedders", cache)
    return cache


def _unit_rows(vectors: np.ndarray) -> bool:
    return bool(np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5))


# -- local model ------------------------------------------------------------------------------


def test_local_vectors_are_384_d_float32_and_l2_normalized(local: LocalEmbedder) -> None:
    vectors = local.embed([FORKLIFT, NURSE, "welder with MIG and TIG certifications"])
    assert local.model == LOCAL_MODEL
    assert local.dimension == LOCAL_DIMENSION == 384
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    assert _unit_rows(vectors)


def test_local_embeddings_are_deterministic_across_calls(local: LocalEmbedder) -> None:
    texts = [FORKLIFT, NURSE]
    np.testing.assert_array_equal(local.embed(texts), local.embed(texts))
    np.testing.assert_array_equal(LocalEmbedder().embed(texts), local.embed(texts))


def test_local_model_is_loaded_once_and_shared_by_instances(
    local: LocalEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sentence_transformers

    constructed: list[str] = []
    real = sentence_transformers.SentenceTransformer

    def counting(*args: Any, **kwargs: Any) -> Any:
        constructed.append(str(args[0] if args else kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", counting)
    a, b = LocalEmbedder(), LocalEmbedder(batch_size=8)
    a.embed([FORKLIFT])
    b.embed([NURSE])
    assert a._st() is b._st() is local._st()
    assert constructed == []  # neither new instance loaded the model again
    assert len(local_mod._models) == 1


def test_concurrent_first_loads_construct_the_model_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import sentence_transformers

    constructed: list[str] = []

    class SlowFakeModel:
        def __init__(self, path: str, **kwargs: Any) -> None:
            constructed.append(path)
            time.sleep(0.05)

    monkeypatch.setattr(local_mod, "_models", {})
    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", SlowFakeModel)
    loaded: list[object] = []
    threads = [
        threading.Thread(target=lambda: loaded.append(LocalEmbedder(path="/fake/minilm")._st())) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert constructed == ["/fake/minilm"]
    assert len(loaded) == 4 and all(m is loaded[0] for m in loaded)


def test_local_model_puts_paraphrases_closer_than_unrelated_jobs(local: LocalEmbedder) -> None:
    query, paraphrase, unrelated = local.embed([FORKLIFT, FORKLIFT_PARAPHRASE, NURSE])
    close, far = float(query @ paraphrase), float(query @ unrelated)
    assert close > far + 0.2, (close, far)


def test_local_batch_results_equal_single_results(local: LocalEmbedder) -> None:
    texts = [FORKLIFT, FORKLIFT_PARAPHRASE, NURSE, "a much longer text: " + "certified crane operator " * 20]
    batch = local.embed(texts)
    singles = np.stack([local.embed_one(t) for t in texts])
    np.testing.assert_allclose(batch, singles, atol=1e-5)
    small_batches = LocalEmbedder(batch_size=2).embed(texts)
    np.testing.assert_allclose(small_batches, singles, atol=1e-5)


@pytest.mark.parametrize(("texts", "index"), [([""], 0), (["ok", "   "], 1), (["ok", "fine", "\n\t"], 2)])
def test_local_empty_or_whitespace_text_raises_empty_text_naming_the_index(
    local: LocalEmbedder, texts: list[str], index: int
) -> None:
    with pytest.raises(EmptyText, match=rf"text {index} is empty") as caught:
        local.embed(texts)
    assert isinstance(caught.value, EmbeddingError) and isinstance(caught.value, ValueError)


def test_local_token_counts_are_the_models_tokens_truncated_at_its_maximum(local: LocalEmbedder) -> None:
    tokenizer = local._st().tokenizer
    long_text = "forklift " * 400  # well past the model's 256-token maximum
    texts = [FORKLIFT, "welder with MIG and TIG certifications and ten years in fabrication shops"]
    counts = local.token_counts([*texts, long_text])
    assert counts[:2] == [len(tokenizer(t)["input_ids"]) for t in texts]
    assert counts[0] < counts[1]  # tokens of each text, not a constant
    assert counts[2] == local._st().max_seq_length == 256
    assert CachedEmbedder(local).token_counts(texts) == counts[:2]  # the cache asks its model


def test_embedders_without_a_tokenizer_count_characters() -> None:
    assert CachedEmbedder(CountingEmbedder()).token_counts(["ab", "", "abcd"]) == [2, 0, 4]


def test_local_empty_list_returns_zero_rows_of_384(local: LocalEmbedder) -> None:
    vectors = local.embed([])
    assert vectors.shape == (0, 384)
    assert vectors.dtype == np.float32


# -- cache ------------------------------------------------------------------------------------


def test_cache_counts_hits_and_misses_exactly() -> None:
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner, capacity=10)
    cached.embed(["a", "b"])
    assert (cached.hits, cached.misses) == (0, 2)
    cached.embed(["a", "b"])
    assert (cached.hits, cached.misses) == (2, 2)
    cached.embed(["b", "c"])  # partially repeated
    assert (cached.hits, cached.misses) == (3, 3)
    assert inner.calls == [["a", "b"], ["c"]]  # only the misses reach the model
    stats = cached.stats()
    assert (stats.hits, stats.misses, stats.size, stats.capacity) == (3, 3, 3, 10)


def test_cache_embeds_duplicate_texts_in_one_call_once() -> None:
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner)
    vectors = cached.embed(["x", "y", "x", "x"])
    assert inner.calls == [["x", "y"]]
    np.testing.assert_array_equal(vectors[0], vectors[2])
    np.testing.assert_array_equal(vectors[0], vectors[3])
    # Every lookup not served from the cache is a miss, duplicates included; one entry per text.
    assert (cached.hits, cached.misses, cached.stats().size) == (0, 4, 2)


def test_cache_evicts_the_least_recently_used_not_the_least_recently_inserted() -> None:
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner, capacity=2)
    cached.embed(["a"])
    cached.embed(["b"])
    cached.embed(["a"])  # a is now the most recently used, b the least
    cached.embed(["c"])  # over capacity: b goes, a stays
    inner.calls.clear()
    cached.embed(["a"])
    assert inner.calls == []
    cached.embed(["b"])
    assert inner.calls == [["b"]]
    assert cached.stats().size == 2


def test_cache_key_includes_the_model() -> None:
    model_a, model_b = CountingEmbedder("fake-a"), CountingEmbedder("fake-b")
    cached = CachedEmbedder(model_a)
    from_a = cached.embed(["same text"])
    cached.inner = model_b  # same cache, same text, another model
    from_b = cached.embed(["same text"])
    assert model_b.calls == [["same text"]]  # not served from model a's entry
    assert not np.allclose(from_a, from_b)
    assert (cached.hits, cached.misses) == (0, 2)
    cached.inner = model_a
    np.testing.assert_array_equal(cached.embed(["same text"]), from_a)
    assert (cached.hits, cached.misses, cached.stats().size) == (1, 2, 2)


def test_cached_result_equals_uncached(local: LocalEmbedder) -> None:
    texts = [FORKLIFT, NURSE, FORKLIFT]
    cached = CachedEmbedder(local)
    first = cached.embed(texts)  # misses (FORKLIFT embedded once)
    second = cached.embed(texts)  # all hits
    uncached = local.embed(texts)
    np.testing.assert_allclose(first, uncached, atol=1e-6)
    np.testing.assert_array_equal(second, first)
    assert cached.hits == 3
    assert cached.model == LOCAL_MODEL and cached.dimension == 384


def test_cache_rejects_empty_text_before_calling_the_model_and_handles_empty_lists() -> None:
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner)
    with pytest.raises(EmptyText, match="text 1"):
        cached.embed(["a", " "])
    assert inner.calls == []
    assert cached.embed([]).shape == (0, inner.dimension)


# -- ollama -----------------------------------------------------------------------------------


def test_ollama_vectors_are_normalized_with_the_servers_dimension(fake_ollama: FakeOllama) -> None:
    embedder = OllamaEmbedder("nomic-embed-text", fake_ollama.url)
    texts = [FORKLIFT, NURSE]
    vectors = embedder.embed(texts)
    assert vectors.shape == (2, 768) and vectors.dtype == np.float32
    assert embedder.dimension == 768
    assert _unit_rows(vectors)
    raw = np.asarray([_fake_vector("nomic-embed-text", t, 768, scale=3.0) for t in texts])
    np.testing.assert_allclose(vectors, raw / np.linalg.norm(raw, axis=1, keepdims=True), atol=1e-5)
    [request] = fake_ollama.embed_requests()
    assert request["json"] == {"model": "nomic-embed-text", "input": texts}


def test_ollama_dimension_is_probed_from_the_server_when_not_given(fake_ollama: FakeOllama) -> None:
    embedder = OllamaEmbedder("tiny-embed", fake_ollama.url)
    assert embedder.dimension == 8
    assert embedder.dimension == 8  # probed once, then remembered
    assert len(fake_ollama.embed_requests()) == 1
    assert embedder.embed([]).shape == (0, 8)


def test_ollama_splits_large_inputs_into_requests_of_batch_size(fake_ollama: FakeOllama) -> None:
    embedder = OllamaEmbedder("tiny-embed", fake_ollama.url, batch_size=4)
    texts = [f"worker {i}" for i in range(10)]
    vectors = embedder.embed(texts)
    sizes = [len(r["json"]["input"]) for r in fake_ollama.embed_requests()]
    assert sizes == [4, 4, 2]
    assert [t for r in fake_ollama.embed_requests() for t in r["json"]["input"]] == texts  # order kept
    assert vectors.shape == (10, 8)
    np.testing.assert_allclose(vectors, OllamaEmbedder("tiny-embed", fake_ollama.url, batch_size=64).embed(texts))


def test_ollama_unknown_model_names_host_and_model_and_suggests_pull(fake_ollama: FakeOllama) -> None:
    embedder = OllamaEmbedder("no-such-model", fake_ollama.url)
    with pytest.raises(EmbeddingError) as caught:
        embedder.embed(["hello"])
    message = str(caught.value)
    assert f"127.0.0.1:{fake_ollama.port}" in message
    assert "no-such-model" in message
    assert "ollama pull no-such-model" in message


def test_ollama_unreachable_host_names_host_and_model(closed_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    embedder = OllamaEmbedder("nomic-embed-text", f"http://127.0.0.1:{closed_port}", timeout=5)
    with pytest.raises(EmbeddingError) as caught:
        embedder.embed(["hello"])
    message = str(caught.value)
    assert f"127.0.0.1:{closed_port}" in message
    assert "unreachable" in message
    assert "nomic-embed-text" in message


def test_ollama_wrong_number_of_vectors_is_an_error(fake_ollama: FakeOllama) -> None:
    fake_ollama.short_models.add("tiny-embed")
    embedder = OllamaEmbedder("tiny-embed", fake_ollama.url)
    with pytest.raises(EmbeddingError, match=r"returned 2 vectors for 3 texts"):
        embedder.embed(["a", "b", "c"])


def test_ollama_ragged_vectors_are_an_error(fake_ollama: FakeOllama) -> None:
    fake_ollama.ragged_models.add("tiny-embed")
    with pytest.raises(EmbeddingError, match=r"unequal length.*tiny-embed"):
        OllamaEmbedder("tiny-embed", fake_ollama.url).embed(["a", "b"])


def test_ollama_batches_of_different_dimension_are_an_error(fake_ollama: FakeOllama) -> None:
    fake_ollama.widening_models.add("tiny-embed")
    embedder = OllamaEmbedder("tiny-embed", fake_ollama.url, batch_size=1)
    with pytest.raises(EmbeddingError, match=r"returned 9-d vectors, expected 8"):
        embedder.embed(["a", "b"])


def test_ollama_connection_dropped_mid_response_names_host_and_model(fake_ollama: FakeOllama) -> None:
    fake_ollama.dropping_models.add("tiny-embed")
    with pytest.raises(EmbeddingError) as caught:
        OllamaEmbedder("tiny-embed", fake_ollama.url).embed(["a"])
    message = str(caught.value)
    assert f"127.0.0.1:{fake_ollama.port}" in message and "tiny-embed" in message


def test_ollama_honours_the_ollama_host_env_var(fake_ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", fake_ollama.url)
    embedder = OllamaEmbedder("tiny-embed")
    assert embedder.host == fake_ollama.url
    assert embedder.embed(["hello"]).shape == (1, 8)
    assert len(fake_ollama.embed_requests()) == 1


def test_ollama_model_is_reported_with_the_ollama_prefix(fake_ollama: FakeOllama) -> None:
    assert OllamaEmbedder("tiny-embed", fake_ollama.url).model == "ollama/tiny-embed"
    cached = open_embedder("ollama", model="tiny-embed", host=fake_ollama.url)
    assert cached.model == "ollama/tiny-embed"
    assert open_embedder("ollama", host=fake_ollama.url).model == "ollama/nomic-embed-text"


def test_ollama_rejects_empty_text_without_a_request(fake_ollama: FakeOllama) -> None:
    with pytest.raises(EmptyText, match="text 0"):
        OllamaEmbedder("tiny-embed", fake_ollama.url).embed([""])
    assert fake_ollama.requests == []


def test_embedder_from_settings_builds_a_cached_ollama_embedder(fake_ollama: FakeOllama) -> None:
    settings = LakehouseSettings(
        _env_file=None,
        embedder_backend="ollama",
        embedder_model="tiny-embed",
        ollama_host=fake_ollama.url,
        embed_batch_size=2,
        embed_cache_size=7,
    )
    embedder = embedder_from_settings(settings)
    assert isinstance(embedder, CachedEmbedder) and embedder.capacity == 7
    embedder.embed(["a", "b", "c"])
    embedder.embed(["a", "b", "c"])  # all hits: no new requests
    assert [len(r["json"]["input"]) for r in fake_ollama.embed_requests()] == [2, 1]


# -- open_embedder ----------------------------------------------------------------------------


def test_open_embedder_unknown_backend_is_a_clear_error() -> None:
    with pytest.raises(
        EmbeddingError, match=r"unknown embedder backend 'openai'.*'local', 'onnx', 'static' or 'ollama'"
    ):
        open_embedder("openai")


def test_open_embedder_local_backend_rejects_other_models() -> None:
    with pytest.raises(EmbeddingError) as caught:
        open_embedder("local", model="nomic-embed-text")
    assert LOCAL_MODEL in str(caught.value) and "nomic-embed-text" in str(caught.value)


def test_open_embedder_local_backend_accepts_its_own_model_name() -> None:
    for model in (None, "", LOCAL_MODEL):
        embedder = open_embedder("local", model=model, cache_size=3)
        assert isinstance(embedder.inner, LocalEmbedder) and embedder.capacity == 3


# -- resource ---------------------------------------------------------------------------------


def test_resource_get_returns_one_embedder_per_configuration(fresh_resource_cache: dict[Any, CachedEmbedder]) -> None:
    resource = EmbedderResource()
    assert resource.get() is resource.get()
    assert EmbedderResource(backend="onnx", batch_size=64).get() is resource.get()  # equal config, other instance
    assert EmbedderResource(cache_size=10).get() is not resource.get()
    assert len(fresh_resource_cache) == 2


def test_resource_from_settings_copies_the_embedder_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAKEHOUSE_EMBED_MODELS_DIR", raising=False)
    settings = LakehouseSettings(
        _env_file=None,
        embedder_backend="ollama",
        embedder_model="tiny-embed",
        ollama_host="http://10.0.0.5:11434",
        embed_batch_size=16,
        embed_cache_size=99,
        embed_threads=3,
        home="/srv/lake",
    )
    resource = EmbedderResource.from_settings(settings)
    assert (resource.backend, resource.model, resource.ollama_host, resource.batch_size, resource.cache_size) == (
        "ollama",
        "tiny-embed",
        "http://10.0.0.5:11434",
        16,
        99,
    )
    assert (resource.models_dir, resource.threads) == ("/srv/lake/models", 3)  # the lake home's models folder
    custom = LakehouseSettings(_env_file=None, embedder_backend="onnx", embed_models_dir="/opt/models")
    assert EmbedderResource.from_settings(custom).models_dir == "/opt/models"


def test_resource_rejects_an_unknown_backend() -> None:
    with pytest.raises(pydantic.ValidationError, match=r"backend[\s\S]*'local', 'onnx', 'static' or 'ollama'"):
        EmbedderResource(backend="openai")  # type: ignore[arg-type]


def test_resource_shares_the_embedder_with_an_asset_in_dagster_materialize(
    local: LocalEmbedder, fresh_resource_cache: dict[Any, CachedEmbedder]
) -> None:
    texts = [FORKLIFT, NURSE]

    @dg.asset
    def embedding_probe(embedder: EmbedderResource) -> dg.MaterializeResult:
        cached = embedder.get()
        hits_before = cached.hits
        vectors = cached.embed(texts)
        return dg.MaterializeResult(
            metadata={
                "dimension": int(vectors.shape[1]),
                "model": cached.model,
                "cache_hits": cached.hits - hits_before,
            }
        )

    shared = EmbedderResource().get()
    shared.embed(texts)  # warm the process-wide cache before the run
    result = dg.materialize([embedding_probe], resources={"embedder": EmbedderResource()})
    assert result.success
    [materialization] = result.asset_materializations_for_node("embedding_probe")
    metadata = materialization.metadata
    assert metadata["dimension"].value == 384
    assert metadata["model"].value == ONNX_MODEL
    assert metadata["cache_hits"].value == 2  # the step used the same embedder (and cache) as this process


def test_a_few_texts_take_the_direct_path_and_get_the_vectors_encode_gives(local: LocalEmbedder) -> None:
    from lakehouse_assets.core.vectors.embedder import DIRECT_MAX

    texts = [FORKLIFT, NURSE]
    encoded = local._st().encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    np.testing.assert_allclose(local.embed(texts), encoded, atol=1e-6)
    many = [FORKLIFT, NURSE, FORKLIFT_PARAPHRASE] * DIRECT_MAX  # more than DIRECT_MAX: encode()'s batches
    np.testing.assert_allclose(local.embed(many)[:2], local.embed(texts), atol=1e-5)
