"""An ASGI app under uvicorn in a child process on a free loopback port: how the benchmarks run the
lakehouse API (and the bare SQL route) the way it is deployed, one process per server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.chroma_server import free_port

ROOT = Path(__file__).resolve().parent.parent
LAKEHOUSE_API = "api.main:app_from_env"


class UvicornProcess:
    """`target` (module:attribute; a factory when `factory`) served at `self.url` until stop()."""

    def __init__(self, target: str, env: dict[str, str], *, factory: bool = False) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "uvicorn", *(["--factory"] if factory else []), target]
        cmd += ["--port", str(self.port), "--log-level", "warning"]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env})

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=20)


def lakehouse_api(home: Path, env: dict[str, str]) -> UvicornProcess:
    """The lakehouse API over the lake at `home`, not reporting to Dagster, with `env` on top."""
    base = {"LAKEHOUSE_HOME": str(home), "LAKEHOUSE_REPORT_TO_DAGSTER": "false"}
    return UvicornProcess(LAKEHOUSE_API, {**base, **env}, factory=True)
