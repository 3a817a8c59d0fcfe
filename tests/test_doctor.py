"""`lakehouse doctor`: real checks against a real lake, a fake Ollama, and ports actually in use."""

from __future__ import annotations

import json
import socket

from lakehouse_assets.cli import main
from lakehouse_assets.core.settings import LakehouseSettings
from lakehouse_assets.doctor import report, run_checks


def by_name(checks) -> dict:
    return {c.name: c for c in checks}


def test_healthy_installation(tmp_path, ollama):
    settings = LakehouseSettings(home=tmp_path / "lake", ollama_host=ollama.url, _env_file=None)
    checks = by_name(run_checks(settings, ports={"API": 0}, embedder=False))
    assert checks["storage"].ok and "readable and writable" in checks["storage"].detail
    assert checks["catalog"].ok and checks["python"].ok and checks["package duckdb"].ok
    assert checks["chat ollama"].ok and "answers 200" in checks["chat ollama"].detail
    assert checks["code location"].ok
    assert checks["chat openrouter"].detail == "not configured (set OPENROUTER_API_KEY to use it)"
    assert not list((tmp_path / "lake").rglob("_doctor*"))  # the probe object was removed


def test_failures_say_how_to_fix_them(tmp_path):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    port = blocker.getsockname()[1]
    try:
        settings = LakehouseSettings(
            home=tmp_path / "lake", chroma_url="http://127.0.0.1:9", ollama_host="http://127.0.0.1:9", _env_file=None
        )
        checks = run_checks(settings, ports={"API": port}, embedder=False)
    finally:
        blocker.close()
    c = by_name(checks)
    assert not c["chroma"].ok and "chroma run" in c["chroma"].fix
    assert not c[f"port {port}"].ok and "stop what listens" in c[f"port {port}"].fix
    assert not c["chat ollama"].ok and "ollama serve" in c["chat ollama"].fix
    text, healthy = report(checks, as_json=False)
    assert not healthy and "[FAIL] chroma" in text and "fix: start it: chroma run" in text
    payload = json.loads(report(checks, as_json=True)[0])
    assert payload["ok"] is False and {"name", "ok", "detail", "fix", "optional"} <= set(payload["checks"][0])


def test_cli_exit_status_and_json(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path / "lake"))
    monkeypatch.setenv("LAKEHOUSE_CHROMA_URL", "http://127.0.0.1:9")
    assert (
        main(["doctor", "--json", "--no-embedder", "--api-port", "0", "--dagster-port", "0", "--chroma-port", "0"]) == 1
    )
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is False and any(c["name"] == "chroma" and not c["ok"] for c in out["checks"])
