"""A real Chroma server for tests: `chroma run` from the chromadb wheel, on a free loopback port.

`run_chroma_server(path)` starts `<venv>/bin/chroma run --path DIR --port N --host 127.0.0.1`, polls
its heartbeat over HTTP until it answers (no fixed sleeps), yields its URL, and stops it on exit
(terminate, wait, kill if it does not stop in time). The server's output goes to a temporary file
that is quoted in the error when the server fails to start.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

HOST = "127.0.0.1"
HEARTBEAT_PATH = "/api/v2/heartbeat"


class ChromaServerError(RuntimeError):
    """The Chroma server did not start (its log is in the message)."""


def chroma_executable() -> Path:
    """The `chroma` console script installed next to this interpreter."""
    exe = Path(sys.executable).parent / ("chroma.exe" if sys.platform == "win32" else "chroma")
    if not exe.exists():
        raise ChromaServerError(f"no chroma CLI at {exe}; is chromadb installed in this environment?")
    return exe


def free_port(host: str = HOST) -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def heartbeat(url: str, timeout: float = 1.0) -> bool:
    """True when the Chroma server at `url` answers its heartbeat."""
    try:
        with urllib.request.urlopen(url + HEARTBEAT_PATH, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _log_tail(log: IO[bytes], limit: int = 4000) -> str:
    log.flush()
    log.seek(0)
    return log.read().decode("utf-8", "replace")[-limit:]


def _stop(process: subprocess.Popen[bytes], timeout: float) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


@contextlib.contextmanager
def run_chroma_server(
    path: Path,
    *,
    port: int | None = None,
    startup_timeout: float = 60.0,
    stop_timeout: float = 10.0,
    attempts: int = 3,
) -> Iterator[str]:
    """Run `chroma run` persisting into `path`; yields its URL (http://127.0.0.1:PORT) once it answers.

    With no `port`, a free one is picked; if another process takes it before the server binds, the
    start is retried on a new port (up to `attempts` times).
    """
    path.mkdir(parents=True, exist_ok=True)
    exe = chroma_executable()
    with tempfile.TemporaryFile(prefix="chroma-server-", suffix=".log") as log:
        process: subprocess.Popen[bytes] | None = None
        url = ""
        for attempt in range(1, attempts + 1):
            chosen = port or free_port()
            url = f"http://{HOST}:{chosen}"
            log.seek(0)
            log.truncate()
            process = subprocess.Popen(
                [str(exe), "run", "--path", str(path), "--port", str(chosen), "--host", HOST],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            deadline = time.monotonic() + startup_timeout
            delay = 0.02
            while process.poll() is None and time.monotonic() < deadline:
                if heartbeat(url, timeout=min(1.0, max(0.1, deadline - time.monotonic()))):
                    break
                time.sleep(delay)
                delay = min(delay * 1.5, 0.25)
            else:
                exited = process.poll() is not None
                _stop(process, stop_timeout)
                if exited and port is None and attempt < attempts:
                    continue  # most likely the port was taken in the meantime: try another one
                reason = (
                    f"exited with code {process.returncode}"
                    if exited
                    else f"did not answer {url}{HEARTBEAT_PATH} within {startup_timeout:.0f} s"
                )
                raise ChromaServerError(f"chroma run {reason}; its output:\n{_log_tail(log)}")
            break
        assert process is not None
        try:
            yield url
        finally:
            _stop(process, stop_timeout)
