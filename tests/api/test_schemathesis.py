"""Property-based fuzzing of the API against its own OpenAPI document (schemathesis): whatever the input, no
operation answers 5xx. Inputs are what the schema allows, what it does not (negative mode), and hostile strings
put where any string goes (lone surrogates, NUL, traversal, SQL, bidi controls, 70,000 characters); then
stateful scenarios follow the document's links (an ingest to its manifest, a created index to its adds, searches
and delete, a stored trace to its updates, revisions and retirement). Upstream failures (no model server here:
502/504) and the load cap (503) are legitimate answers; an unhandled error is not."""

from __future__ import annotations

import io
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow.csv as pacsv
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from api.main import create_app
from api.settings import ApiSettings
from lakehouse_assets.core.sample.generate import generate_workers
from tests.live_server import serve

_HOME = Path(tempfile.mkdtemp(prefix="lakehouse-fuzz-"))
SETTINGS = ApiSettings(
    home=_HOME / "lake",
    report_to_dagster=False,
    warm_embedder=False,
    chat_retries=0,
    chat_timeout_seconds=2.0,
    ollama_host="http://127.0.0.1:9",
    max_ingest_bytes=1 << 20,
    _env_file=None,
)
APP = create_app(SETTINGS)
schema = schemathesis.openapi.from_dict(APP.openapi())
schema.config.generation.update(allow_x00=True, codec="utf-8")
# /health takes no input at all: there is nothing invalid to send it
negative = schemathesis.openapi.from_dict(APP.openapi()).exclude(path="/health")
negative.config.generation.update(modes=[schemathesis.GenerationMode.NEGATIVE], allow_x00=True)

# Where any string goes, one of these may go instead. Bodies take all of them (JSON escapes a surrogate); a URL
# cannot carry a lone surrogate at all, so paths and queries take the rest.
HOSTILE = [
    "../../etc/passwd",
    "..",
    "a..b",
    "127.0.0.1",
    "corpus_workers",
    "'; DROP VIEW workers; --",
    "\x00",
    "%00",
    "\u202e\u0645",
    "\U0001f600",
    " ",
    "chroma:document",
    "x" * 70_000,
]
BODY_ONLY = ["\ud800", "a\udfffb"]


def _hostile(value: Any, strings: list[str], keys: bool = True) -> st.SearchStrategy[Any]:
    """`value` with any of its strings (and, with `keys`, its objects' keys) possibly swapped for a hostile one."""
    if isinstance(value, str):
        return st.one_of(st.just(value), st.sampled_from(strings))
    if isinstance(value, list):
        return st.tuples(*(_hostile(v, strings) for v in value)).map(list) if value else st.just(value)
    if isinstance(value, dict):
        names = st.tuples(*((_hostile(k, strings) if keys else st.just(k)) for k in value)) if value else st.just(())
        values = st.tuples(*(_hostile(v, strings) for v in value.values())) if value else st.just(())
        return st.tuples(names, values).map(lambda kv: dict(zip(kv[0], kv[1], strict=True)))
    return st.just(value)


@schema.hook
@negative.hook
def flatmap_body(context, body):
    # only a JSON body can carry a surrogate (escaped); an upload (a CSV, raw or multipart) is sent as UTF-8
    json_body = isinstance(body, dict | list) and context.operation.path != "/v1/ingest"
    return _hostile(body, HOSTILE + BODY_ONLY) if json_body else _hostile(body, HOSTILE).map(_utf8)


def _utf8(value: Any) -> Any:
    """`value` with any surrogate (which a URL or an upload cannot carry) replaced: the client could not send it."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, list):
        return [_utf8(v) for v in value]
    if isinstance(value, dict):
        return {_utf8(k): _utf8(v) for k, v in value.items()}
    return value


@schema.hook
@negative.hook
def flatmap_query(context, query):
    return _hostile(query, HOSTILE, keys=False).map(_utf8) if query else st.just(query)


@schema.hook
@negative.hook
def flatmap_path_parameters(context, path_parameters):
    return (
        _hostile(path_parameters, [h for h in HOSTILE if h not in ("..", "\x00")], keys=False).map(_utf8)
        if path_parameters
        else st.just(path_parameters)
    )


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    csv = io.BytesIO()
    pacsv.write_csv(generate_workers(1000, seed=5), csv)
    try:
        with serve(APP) as url:
            headers = {"content-type": "text/csv"}
            r = httpx.post(f"{url}/v1/ingest?name=workers", content=csv.getvalue(), headers=headers)
            assert r.status_code == 201
            yield url
    finally:
        shutil.rmtree(_HOME, ignore_errors=True)


def no_server_error(response: Any, what: str) -> None:
    assert response.status_code != 500, f"{what} -> 500: {response.text[:500]}"
    assert response.status_code < 500 or response.status_code in (502, 503, 504), f"{what}: {response.text[:500]}"
    content_type = response.headers.get("content-type") or ""
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    if response.status_code >= 400 and content_type.startswith("application/json"):
        body = response.json()
        assert isinstance(body, dict) and body  # errors are JSON objects that say something


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_input_makes_the_api_fail(case, base_url):
    no_server_error(case.call(base_url=base_url, timeout=30), f"{case.method} {case.path}")


@negative.parametrize()
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_invalid_input_makes_the_api_fail(case, base_url):
    """Negative mode: inputs the schema forbids (wrong types, missing fields, out-of-range numbers)."""
    no_server_error(case.call(base_url=base_url, timeout=30), f"{case.method} {case.path}")


def test_the_document_links_creations_to_what_follows_them():
    links = {
        (path, method, name)
        for path, ops in APP.openapi()["paths"].items()
        for method, op in ops.items()
        for response in op["responses"].values()
        for name in response.get("links", {})
    }
    assert ("/v1/pathway/traces", "post", "GetTrace") in links
    assert ("/v1/vectors/{index}", "post", "AddVectors") in links
    assert ("/v1/ingest", "post", "GetDataset") in links
    assert {("GET", "/v1/pathway/traces/{uid}"), ("POST", "/v1/vectors/{index}/search")} <= link_targets(APP.openapi())


# The resources the links connect; each scenario gets an API of its own, so what a step answers depends only on
# the scenario's earlier steps (with one server for all, an index deleted by one scenario turned the next one's
# links into 404s, and Hypothesis rightly called the generation flaky).
linked = schemathesis.openapi.from_dict(APP.openapi()).include(path_regex=r"^/v1/(ingest|datasets|vectors|pathway)")
linked.config.generation.update(allow_x00=True, codec="utf-8")
linked.hook(flatmap_body)  # path parameters keep what the links give them: the stateless tests vary those
linked.hook(flatmap_query)


def test_stateful_scenarios_over_the_links_find_no_server_error(tmp_path_factory):
    workflow = linked.as_state_machine()
    calls: list[tuple[str, str, int]] = []
    models = _HOME / "lake" / "models"  # the embedder's exported model, built once by the first API

    class Scenarios(workflow):  # type: ignore[misc,valid-type]
        def setup(self) -> None:
            home = tmp_path_factory.mktemp("scenario") / "lake"
            settings = SETTINGS.model_copy(update={"home": home, "embed_models_dir": models})
            self._server = serve(create_app(settings))
            self._url = self._server.__enter__()

        def teardown(self) -> None:
            self._server.__exit__(None, None, None)

        def get_call_kwargs(self, case):
            return {"base_url": self._url, "timeout": 30}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            calls.append((case.method, case.path, response.status_code))
            no_server_error(response, f"{case.method} {case.path}")

    Scenarios.run(
        settings=settings(
            max_examples=30,
            stateful_step_count=5,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
    )
    # the scenarios did follow links: a call a link leads to, on what an earlier call created, succeeded (each
    # of those answers 404 for a name or uid nobody created, so a success there is a followed link)
    followed = {(method, path) for method, path, status in calls if status < 300 and "{" in path}
    assert followed & link_targets(APP.openapi()), sorted(set(calls))


def link_targets(document: dict[str, Any]) -> set[tuple[str, str]]:
    """(METHOD, path) of every operation a response's link leads to."""
    targets = set()
    for ops in document["paths"].values():
        for op in ops.values():
            for response in op["responses"].values():
                for link in response.get("links", {}).values():
                    pointer, method = link["operationRef"].removeprefix("#/paths/").rsplit("/", 1)
                    targets.add((method.upper(), pointer.replace("~1", "/").replace("~0", "~")))
    return targets
