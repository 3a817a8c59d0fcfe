"""`lakehouse doctor`: is this installation able to work? Each check says what it found and, when it
fails, how to fix it; the exit status says whether all passed."""

from __future__ import annotations

import importlib.metadata
import json
import os
import socket
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from lakehouse_assets.core.settings import LakehouseSettings

PACKAGES = ("dagster", "duckdb", "pyarrow", "chromadb", "fastapi", "sentence-transformers", "torch", "ollama", "mcp")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    optional: bool = False  # a failure is reported but does not fail the doctor


def _python() -> list[Check]:
    v = sys.version_info
    ok = (v.major, v.minor) == (3, 11)
    return [
        Check("python", ok, f"Python {v.major}.{v.minor}.{v.micro}", "" if ok else "use Python 3.11 (make demo does)")
    ]


def _packages() -> list[Check]:
    out = []
    for name in PACKAGES:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out.append(Check(f"package {name}", False, "not installed", "run `make install` (or `make test`)"))
            continue
        ok = not (name == "torch" and "+cu" in version)
        fix = "" if ok else "the CUDA build of torch is installed; reinstall the CPU build (the Makefile pins it)"
        out.append(Check(f"package {name}", ok, version, fix))
    return out


def _storage(settings: LakehouseSettings) -> list[Check]:
    from lakehouse_assets.core.lake.catalog import Catalog
    from lakehouse_assets.core.lake.storage import open_storage

    try:
        lake = open_storage(settings)
        key = f"_doctor-{uuid.uuid4().hex}"
        lake.put_bytes(key, b"ok")
        assert lake.get_bytes(key) == b"ok"
        lake.delete(key)
        storage = Check("storage", True, f"{lake.describe()} is readable and writable")
    except Exception as e:
        where = f"s3://{settings.s3_bucket}" if settings.s3_bucket else str(settings.home)
        fix = (
            "check LAKEHOUSE_S3_* settings and credentials"
            if settings.s3_bucket
            else "check LAKEHOUSE_HOME's permissions"
        )
        return [Check("storage", False, f"{where}: {type(e).__name__}: {e}", fix)]
    try:
        names = [m.name for m in Catalog(lake).list()]
        catalog = Check("catalog", True, f"{len(names)} datasets" + (f": {', '.join(names[:8])}" if names else ""))
    except Exception as e:
        catalog = Check("catalog", False, f"{type(e).__name__}: {e}", "a manifest is unreadable; see the message")
    return [storage, catalog]


def _chroma(settings: LakehouseSettings) -> list[Check]:
    if settings.chroma_url:
        url = f"{settings.chroma_url.rstrip('/')}/api/v2/heartbeat"
        try:
            httpx.get(url, timeout=5).raise_for_status()
            return [Check("chroma", True, f"server at {settings.chroma_url} answers")]
        except httpx.HTTPError as e:
            fix = f"start it: chroma run --path {settings.chroma_path} --port <port> (or unset LAKEHOUSE_CHROMA_URL)"
            return [Check("chroma", False, f"{settings.chroma_url}: {type(e).__name__}", fix)]
    path = settings.chroma_path
    path.mkdir(parents=True, exist_ok=True)
    ok = os.access(path, os.W_OK)
    return [Check("chroma", ok, f"local folder {path}", "" if ok else f"make {path} writable")]


def _embedder(settings: LakehouseSettings) -> list[Check]:
    from lakehouse_assets.core.vectors.embedder import embedder_from_settings

    started = time.perf_counter()
    try:
        embedder = embedder_from_settings(settings)
        vector = embedder.embed(["doctor"])[0]
        detail = f"{embedder.model}, {len(vector)}-d, loaded in {time.perf_counter() - started:.1f} s"
        return [Check("embedder", True, detail)]
    except Exception as e:
        fix = "start Ollama and pull the model" if settings.embedder_backend == "ollama" else "run `make install`"
        return [Check("embedder", False, f"{type(e).__name__}: {e}", fix)]


def _chat(settings: LakehouseSettings) -> list[Check]:
    from lakehouse_assets.core.llm.chat import chat_router_from_settings

    router = chat_router_from_settings(settings)
    out = []
    try:
        for name, (ok, detail) in router.probe().items():
            fix = (
                ""
                if ok
                else "start Ollama (ollama serve) or set OLLAMA_HOST"
                if name == "ollama"
                else "check URL and key"
            )
            out.append(Check(f"chat {name}", ok, detail, fix, optional=True))
        for name, env in router.missing_keys.items():
            out.append(Check(f"chat {name}", True, f"not configured (set {env} to use it)", optional=True))
    finally:
        router.close()
    return out


def _dagster() -> list[Check]:
    home = os.environ.get("DAGSTER_HOME")
    out = [
        Check(
            "dagster instance",
            bool(home) and Path(home, "dagster.yaml").exists(),
            f"DAGSTER_HOME={home}" if home else "DAGSTER_HOME is not set",
            "" if home else "set DAGSTER_HOME (make demo uses ./.dagster_home); copy dagster.yaml into it",
            optional=True,
        )
    ]
    try:
        import dagster as dg

        from lakehouse_assets.definitions import defs

        dg.Definitions.validate_loadable(defs)
        assets = len(list(defs.resolve_asset_graph().get_all_asset_keys()))
        out.append(Check("code location", True, f"lakehouse_assets.definitions loads ({assets} assets)"))
    except Exception as e:
        out.append(Check("code location", False, f"{type(e).__name__}: {e}", "run `make validate` for the details"))
    return out


def _ports(ports: dict[str, int]) -> list[Check]:
    out = []
    for what, port in ports.items():
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
                out.append(Check(f"port {port}", True, f"free for the {what}", optional=True))
            except OSError:
                fix = f"stop what listens on {port}, or choose another port for the {what}"
                out.append(
                    Check(f"port {port}", False, f"in use (the {what} may already be running)", fix, optional=True)
                )
    return out


def run_checks(settings: LakehouseSettings, *, ports: dict[str, int], embedder: bool = True) -> list[Check]:
    steps: list[Callable[[], list[Check]]] = [
        _python,
        _packages,
        lambda: _storage(settings),
        lambda: _chroma(settings),
        *([lambda: _embedder(settings)] if embedder else []),
        lambda: _chat(settings),
        _dagster,
        lambda: _ports(ports),
    ]
    checks: list[Check] = []
    for step in steps:
        checks.extend(step())
    return checks


def report(checks: list[Check], as_json: bool) -> tuple[str, bool]:
    healthy = all(c.ok or c.optional for c in checks)
    if as_json:
        return json.dumps({"ok": healthy, "checks": [asdict(c) for c in checks]}, indent=2), healthy
    lines = []
    for c in checks:
        mark = "ok  " if c.ok else ("warn" if c.optional else "FAIL")
        lines.append(f"[{mark}] {c.name:32} {c.detail}")
        if not c.ok and c.fix:
            lines.append(f"       fix: {c.fix}")
    lines.append("all required checks passed" if healthy else "some required checks failed")
    return "\n".join(lines), healthy
