"""One handler maps every LakehouseError: its status, its stable code, its body fields and headers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import api.main  # noqa: F401  (imports every module whose errors the API can raise)
from api.main import create_app
from api.settings import ApiSettings
from lakehouse_assets.core.errors import LakehouseError
from lakehouse_assets.core.ingest.spool import TooLarge
from lakehouse_assets.core.llm.chat.types import UpstreamRateLimited
from lakehouse_assets.core.sql.engine import SqlTimeout
from lakehouse_assets.core.vectors.exceptions import IndexUnavailable


def every_error(base: type[LakehouseError] = LakehouseError) -> Iterator[type[LakehouseError]]:
    for cls in base.__subclasses__():
        yield cls
        yield from every_error(cls)


def test_every_error_class_names_an_http_status_and_a_stable_code() -> None:
    classes = sorted(set(every_error()), key=lambda c: c.__qualname__)
    assert len(classes) >= 30  # the project's errors, from every package
    for cls in classes:
        assert 400 <= cls.status <= 599, cls
        assert re.fullmatch(r"[a-z][a-z_]*[a-z]", cls.code), cls


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(ApiSettings(home=tmp_path / "lake", report_to_dagster=False, warm_embedder=False, _env_file=None))
    raised: dict[str, Exception] = {
        "too-large": TooLarge(10),
        "timeout": SqlTimeout(250),
        "unavailable": IndexUnavailable("corpus_workers", "Nothing found on disk"),
        "limited": UpstreamRateLimited("slow down", retry_after=2.2),
    }

    @app.get("/raise/{what}")
    def _raise(what: str) -> None:
        raise raised[what]

    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize(
    ("what", "status", "code", "field", "retry_after"),
    [
        ("too-large", 413, "too_large", ("limit_bytes", 10), None),
        ("timeout", 400, "sql_timeout", ("timeout_ms", 250), None),
        ("unavailable", 503, "vector_store_unavailable", None, "1"),
        ("limited", 429, "rate_limited", ("retry_after", 2.2), "3"),
    ],
)
def test_an_error_answers_with_its_status_code_fields_and_headers(
    client: TestClient, what: str, status: int, code: str, field: tuple | None, retry_after: str | None
) -> None:
    r = client.get(f"/raise/{what}")
    body = r.json()
    assert (r.status_code, body["error"]) == (status, code) and body["message"]
    if field is not None:
        assert body[field[0]] == field[1]
    assert r.headers.get("retry-after") == retry_after
