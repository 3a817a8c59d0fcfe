"""Bearer tokens with rotation, the IP allowlist, /health left open, and no open API off loopback."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.security import UnsafeBind, check_bind, token_matches
from api.settings import ApiSettings


def make(tmp_path: Path, **kw) -> ApiSettings:
    return ApiSettings(home=tmp_path / "lake", report_to_dagster=False, warm_embedder=False, _env_file=None, **kw)


@pytest.fixture
def client(tmp_path: Path):
    settings = make(tmp_path, api_token="primary-token", api_tokens_secondary=["old-token", "  "])
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.mark.parametrize(
    ("header", "status"),
    [
        ("Bearer primary-token", 200),
        ("bearer primary-token", 200),  # the scheme is case-insensitive
        ("Bearer old-token", 200),  # a secondary token during rotation
        (None, 401),
        ("Bearer ", 401),
        ("Bearer wrong", 401),
        ("Bearer primary-token-and-more", 401),
        ("Bearer primary", 401),
        ("Basic cHJpbWFyeS10b2tlbg==", 401),
        ("primary-token", 401),
        ("Bearer PRIMARY-TOKEN", 401),
        ("Bearer   ", 401),  # an empty secondary token is never accepted
    ],
)
def test_bearer_tokens(client, header, status):
    headers = {"Authorization": header} if header is not None else {}
    r = client.get("/v1/datasets", headers=headers)
    assert r.status_code == status, (header, r.text)
    if status == 401:
        assert r.headers["www-authenticate"] == "Bearer" and r.json()["error"] == "unauthorized"


def test_health_stays_open_and_nothing_changes_without_a_token(client):
    assert client.get("/health").status_code == 200
    r = client.post("/v1/ingest?name=people", content=b"a,b\n1,2\n", headers={"content-type": "text/csv"})
    assert r.status_code == 401
    ok = client.get("/v1/datasets", headers={"Authorization": "Bearer primary-token"})
    assert ok.json() == {"datasets": []}  # the refused ingest wrote nothing


def test_openai_clients_get_an_openai_shaped_401(client):
    r = client.post("/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"


def test_docs_declare_the_bearer_scheme(client):
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_allowlist(tmp_path):
    # TestClient calls come from the address "testclient", which is in no network
    with TestClient(create_app(make(tmp_path, api_allow_cidrs=["10.0.0.0/8"]))) as c:
        r = c.get("/v1/datasets")
        assert r.status_code == 403 and r.json()["error"] == "forbidden"
        assert c.get("/health").status_code == 200
    with TestClient(create_app(make(tmp_path, api_allow_cidrs=["10.0.0.0/8"])), client=("10.1.2.3", 5000)) as c:
        assert c.get("/v1/datasets").status_code == 200


def test_bad_cidr_is_a_clear_settings_error(tmp_path):
    with pytest.raises(ValueError, match=r"'10\.0\.0\.0/33' is not a network"):
        make(tmp_path, api_allow_cidrs=["10.0.0.0/33"])


def test_no_open_api_beyond_loopback(tmp_path):
    open_settings = make(tmp_path)
    for host in ("127.0.0.1", "localhost", "::1"):
        check_bind(host, open_settings)
    for host in ("0.0.0.0", "192.168.1.5", "::"):
        with pytest.raises(UnsafeBind, match="LAKEHOUSE_API_TOKEN"):
            check_bind(host, open_settings)
    check_bind("0.0.0.0", make(tmp_path, api_token="t"))


def test_cli_refuses_to_start_an_open_api_on_all_interfaces(monkeypatch, capsys):
    from lakehouse_assets.cli import main

    monkeypatch.delenv("LAKEHOUSE_API_TOKEN", raising=False)
    assert main(["api", "--host", "0.0.0.0", "--port", "8799"]) == 2
    assert "refusing to listen on 0.0.0.0" in capsys.readouterr().err


def test_token_comparison_checks_every_token():
    assert token_matches("b", ("a", "b", "c")) and not token_matches("d", ("a", "b", "c"))
    assert not token_matches("", ())
