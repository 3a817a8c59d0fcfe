"""Who can reach the API: bearer tokens with rotation, placeholder and short tokens refused, the IP allowlist,
forwarded addresses only from trusted proxies, an API without a token serving its own machine only (whatever
started it), anonymous callers refused before their body is read, and what /health tells whom."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.security import UnsafeBind, check_bind, token_matches
from api.settings import ApiSettings
from tests.live_server import serve

PRIMARY, OLD = "primary-token-0123456789", "old-token-0123456789"


def make(tmp_path: Path, **kw) -> ApiSettings:
    return ApiSettings(home=tmp_path / "lake", report_to_dagster=False, warm_embedder=False, _env_file=None, **kw)


@pytest.fixture
def client(tmp_path: Path):
    settings = make(tmp_path, api_token=PRIMARY, api_tokens_secondary=[OLD, "  "])
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.mark.parametrize(
    ("header", "status"),
    [
        (f"Bearer {PRIMARY}", 200),
        (f"bearer {PRIMARY}", 200),  # the scheme is case-insensitive
        (f"Bearer {OLD}", 200),  # a secondary token during rotation
        (None, 401),
        ("Bearer ", 401),
        ("Bearer wrong", 401),
        (f"Bearer {PRIMARY}-and-more", 401),
        (f"Bearer {PRIMARY[:-1]}", 401),
        ("Basic cHJpbWFyeS10b2tlbg==", 401),
        (PRIMARY, 401),
        (f"Bearer {PRIMARY.upper()}", 401),
        ("Bearer   ", 401),  # an empty secondary token is never accepted
    ],
)
def test_bearer_tokens(client, header, status):
    headers = {"Authorization": header} if header is not None else {}
    r = client.get("/v1/datasets", headers=headers)
    assert r.status_code == status, (header, r.text)
    if status == 401:
        assert r.headers["www-authenticate"] == "Bearer" and r.json()["error"] == "unauthorized"


@pytest.mark.parametrize(
    ("token", "why"),
    [
        ("change-me", "placeholder"),
        ("CHANGEME", "placeholder"),
        ("please-change-me-before-deploying", "placeholder"),
        ("<your-api-token>", "placeholder"),
        ("your_token_here_0123456789", "placeholder"),
        ("xxxxxxxxxxxxxxxxxxxxxxxx", "placeholder"),
        ("short-0123", "at least 16 characters"),
    ],
)
def test_placeholder_and_short_tokens_are_refused_at_start(tmp_path, token, why):
    with pytest.raises(ValueError, match=why):
        make(tmp_path, api_token=token)
    with pytest.raises(ValueError, match=why):
        make(tmp_path, api_token=PRIMARY, api_tokens_secondary=[token])


def test_health_says_up_to_anyone_and_the_rest_to_the_token(client):
    assert client.get("/health").json() == {"status": "ok"}  # no lake path, no frames, no process
    details = client.get("/health", headers={"Authorization": f"Bearer {PRIMARY}"}).json()
    assert details["status"] == "ok" and "lake" in details and "search_frames" in details
    r = client.post("/v1/ingest?name=people", content=b"a,b\n1,2\n", headers={"content-type": "text/csv"})
    assert r.status_code == 401
    ok = client.get("/v1/datasets", headers={"Authorization": f"Bearer {PRIMARY}"})
    assert ok.json() == {"datasets": []}  # the refused ingest wrote nothing


def test_docs_and_schema_need_the_token_when_one_is_set(client, tmp_path):
    for path in ("/docs", "/redoc", "/openapi.json", "/no-such-page"):
        assert client.get(path).status_code == 401, path
    spec = client.get("/openapi.json", headers={"Authorization": f"Bearer {PRIMARY}"}).json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    with TestClient(create_app(make(tmp_path / "open"))) as local:  # no token: open to this machine
        assert local.get("/openapi.json").status_code == 200


def test_openai_clients_get_an_openai_shaped_401(client):
    r = client.post("/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"


def test_allowlist(tmp_path):
    token = {"Authorization": f"Bearer {PRIMARY}"}
    settings = make(tmp_path, api_token=PRIMARY, api_allow_cidrs=["10.0.0.0/8"])
    with TestClient(create_app(settings), headers=token, client=("192.168.1.9", 5000)) as c:
        r = c.get("/v1/datasets")
        assert r.status_code == 403 and r.json()["error"] == "forbidden"
        assert c.get("/health").json() == {"status": "ok"}
    with TestClient(create_app(settings), headers=token, client=("10.1.2.3", 5000)) as c:
        assert c.get("/v1/datasets").status_code == 200


def test_an_api_without_a_token_serves_its_own_machine_only(tmp_path):
    settings = make(tmp_path)
    for peer in ("192.168.1.5", "10.0.0.7", "2001:db8::1"):
        with TestClient(create_app(settings), client=(peer, 40000)) as c:
            r = c.get("/v1/datasets")
            assert r.status_code == 403 and "LAKEHOUSE_API_TOKEN" in r.json()["message"], peer
            assert c.get("/health").json() == {"status": "ok"}
    for peer in ("127.0.0.1", "::1", "testclient"):  # loopback, or no network peer at all (in-process)
        with TestClient(create_app(settings), client=(peer, 40000)) as c:
            assert c.get("/v1/datasets").status_code == 200, peer


def test_forwarded_addresses_count_only_from_trusted_proxies(tmp_path):
    token = {"Authorization": f"Bearer {PRIMARY}"}
    allow = {"api_token": PRIMARY, "api_allow_cidrs": ["10.0.0.0/8"]}
    spoof = {**token, "X-Forwarded-For": "10.1.2.3"}
    # a caller that is not a configured proxy cannot pick its address
    with TestClient(create_app(make(tmp_path, **allow)), client=("192.168.1.9", 5000)) as c:
        assert c.get("/v1/datasets", headers=spoof).status_code == 403
    trusted = make(tmp_path, **allow, api_trusted_proxies=["192.168.1.0/24"])
    with TestClient(create_app(trusted), client=("192.168.1.9", 5000)) as c:
        assert c.get("/v1/datasets", headers=spoof).status_code == 200
        # the right-most untrusted hop is the caller: what a client writes to the left of it is not
        assert c.get("/v1/datasets", headers={**token, "X-Forwarded-For": "10.1.2.3, 172.16.0.4"}).status_code == 403
        assert c.get("/v1/datasets", headers={**token, "X-Forwarded-For": "bogus"}).status_code == 403


def test_a_server_rewriting_forwarded_headers_does_not_open_the_api(tmp_path):
    """Plain `uvicorn --factory api.main:app_from_env` rewrites the caller from X-Forwarded-For when the peer is
    127.0.0.1 (its --proxy-headers default): a caller then picks its own address. With no proxy configured here,
    such a caller is nobody: refused by an API without a token, and by an allowlist."""
    with serve(create_app(make(tmp_path))) as url:  # uvicorn's defaults: proxy headers on, from 127.0.0.1
        assert httpx.get(f"{url}/v1/datasets").status_code == 200  # this machine, no header
        r = httpx.get(f"{url}/v1/datasets", headers={"X-Forwarded-For": "127.0.0.1"})
        assert r.status_code == 403, r.text


def test_anonymous_clients_trickling_bodies_hold_no_slots(tmp_path):
    """Before: authentication ran after FastAPI read the body, so anonymous clients sending one byte of a long
    body each held the in-flight slots and every other caller got 503. Now they are answered 401 from their
    headers and an authorized caller is served."""
    settings = make(tmp_path, api_token=PRIMARY, api_max_in_flight=4)
    with serve(create_app(settings)) as url:
        port = int(url.rsplit(":", 1)[1])
        stalled = []
        for _ in range(12):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(
                b"POST /v1/sql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
            )
            stalled.append(s)
        try:
            for s in stalled:  # each is refused from its headers, without the server waiting for its body
                assert s.recv(200).startswith(b"HTTP/1.1 401"), "an anonymous body was read before auth"
            r = httpx.post(f"{url}/v1/sql", json={"sql": "SELECT 42"}, headers={"Authorization": f"Bearer {PRIMARY}"})
            assert r.status_code == 200 and r.json()["rows"] == [[42]]
        finally:
            for s in stalled:
                s.close()


def test_a_body_that_takes_too_long_is_408(tmp_path):
    settings = make(tmp_path, api_token=PRIMARY, api_body_timeout_seconds=1.0, ingest_body_timeout_seconds=1.0)
    with serve(create_app(settings)) as url:
        port = int(url.rsplit(":", 1)[1])
        for path, ctype in (("/v1/sql", "application/json"), ("/v1/ingest?name=slow", "text/csv")):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            try:
                s.sendall(
                    f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {PRIMARY}\r\n"
                    f"Content-Type: {ctype}\r\nContent-Length: 1000\r\n\r\n".encode()
                )
                started = time.monotonic()
                s.sendall(b"{" if ctype.endswith("json") else b"a,b\n")
                reply = s.recv(2000)
                assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
                assert b"LAKEHOUSE_" in reply and time.monotonic() - started < 8
            finally:
                s.close()
        r = httpx.get(f"{url}/v1/datasets", headers={"Authorization": f"Bearer {PRIMARY}"})
        assert r.json() == {"datasets": []}  # the slow upload added nothing


def test_bad_cidr_is_a_clear_settings_error(tmp_path):
    with pytest.raises(ValueError, match=r"'10\.0\.0\.0/33' is not a network"):
        make(tmp_path, api_allow_cidrs=["10.0.0.0/33"])
    with pytest.raises(ValueError, match=r"api_trusted_proxies: 'proxy' is not a network"):
        make(tmp_path, api_trusted_proxies=["proxy"])


def test_no_open_api_beyond_loopback(tmp_path):
    open_settings = make(tmp_path)
    for host in ("127.0.0.1", "localhost", "::1"):
        check_bind(host, open_settings)
    for host in ("0.0.0.0", "192.168.1.5", "::"):
        with pytest.raises(UnsafeBind, match="LAKEHOUSE_API_TOKEN"):
            check_bind(host, open_settings)
    check_bind("0.0.0.0", make(tmp_path, api_token=PRIMARY))


def test_cli_refuses_to_start_an_open_api_on_all_interfaces(monkeypatch, capsys):
    from lakehouse_assets.cli import main

    monkeypatch.delenv("LAKEHOUSE_API_TOKEN", raising=False)
    assert main(["api", "--host", "0.0.0.0", "--port", "8799"]) == 2
    assert "refusing to listen on 0.0.0.0" in capsys.readouterr().err


def test_token_comparison_checks_every_token():
    assert token_matches("b", ("a", "b", "c")) and not token_matches("d", ("a", "b", "c"))
    assert not token_matches("", ())
