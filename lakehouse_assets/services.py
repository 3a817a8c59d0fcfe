"""The running stack: the Chroma server, the Dagster webserver and daemon (`dagster dev`), and the API.

`start_stack` checks every port first (a port in use is an error naming it), starts each service
with its log under `<home>/logs/`, waits for each to answer its health URL (polling, not sleeping),
and records the processes in `<home>/run/services.json`, which `status` and `down` read.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class StackError(RuntimeError):
    pass


@dataclass
class Service:
    name: str
    pid: int
    url: str
    health: str
    log: str


@dataclass(frozen=True)
class StackConfig:
    """Where the stack listens. `host` is the API's address; Chroma and the Dagster webserver have no
    authentication of their own, so they listen on `services_host`, loopback unless told otherwise (put them
    behind an authenticating proxy first: the README's "Securing it")."""

    home: Path
    host: str = "127.0.0.1"
    api_port: int = 8000
    dagster_port: int = 3000
    chroma_port: int = 8001
    services_host: str = "127.0.0.1"

    @property
    def state_file(self) -> Path:
        return self.home / "run" / "services.json"

    @property
    def logs(self) -> Path:
        return self.home / "logs"  # not DAGSTER_HOME/logs: Dagster owns that folder


def _reachable(host: str) -> str:
    """The address to reach a service bound to `host` from this machine (a wildcard bind answers on loopback)."""
    return {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(host, f"[{host}]" if ":" in host else host)


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def answers(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status < 500
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_until_answers(url: str, proc: subprocess.Popen | None, timeout: float, what: str = "the service") -> None:
    """Poll `url` until it answers; fail early if `proc` exits, or after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise StackError(f"{what} exited with status {proc.returncode}")
        if answers(url):
            return
        time.sleep(0.25)
    raise StackError(f"{what} did not answer {url} within {timeout:.0f} s")


def wait_healthy(service: Service, proc: subprocess.Popen, timeout: float) -> None:
    try:
        wait_until_answers(service.health, proc, timeout, service.name)
    except StackError as e:
        raise StackError(f"{e}; see {service.log}") from None


def _spawn(cmd: list[str], log: Path) -> subprocess.Popen:
    """Start a service in its own process group, output appended to `log`."""
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT, start_new_session=True)


def read_state(config: StackConfig) -> dict | None:
    try:
        return json.loads(config.state_file.read_text())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Stack:
    """The services started by this process; `stop()` ends them all."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.procs: list[tuple[Service, subprocess.Popen]] = []

    def start(self, api_env: dict[str, str] | None = None) -> list[Service]:
        c = self.config
        existing = read_state(c)
        if existing and _alive(existing.get("supervisor", -1)):
            raise StackError(f"the stack is already running (pid {existing['supervisor']}); `lakehouse down` stops it")
        listeners = (
            ("Chroma", c.services_host, c.chroma_port),
            ("Dagster UI", c.services_host, c.dagster_port),
            ("API", c.host, c.api_port),
        )
        busy = [f"{what} port {host}:{port}" for what, host, port in listeners if port_in_use(host, port)]
        if busy:
            raise StackError(f"already in use: {', '.join(busy)}; stop what listens there or pick other ports")
        c.logs.mkdir(parents=True, exist_ok=True)
        plan = self.plan()
        os.environ["LAKEHOUSE_CHROMA_URL"] = plan[0][0].url  # the API and Dagster runs share the server
        os.environ.update(api_env or {})
        try:
            for service, cmd, _ in plan:
                proc = _spawn(cmd, Path(service.log))
                service.pid = proc.pid
                self.procs.append((service, proc))
            for (service, proc), (_, _, timeout) in zip(self.procs, plan, strict=True):
                wait_healthy(service, proc, timeout)
        except BaseException:
            self.stop()
            raise
        self._write_state()
        return [s for s, _ in self.procs]

    def plan(self) -> list[tuple[Service, list[str], float]]:
        """What `start` runs, in order: each service, its command line and how long it may take to answer."""
        c = self.config
        bin_dir = Path(sys.executable).parent
        services = _reachable(c.services_host)
        chroma_url = f"http://{services}:{c.chroma_port}"
        chroma_path = str((c.home / "chroma").resolve())
        return [
            (
                Service("chroma", 0, chroma_url, f"{chroma_url}/api/v2/heartbeat", str(c.logs / "chroma.log")),
                [str(bin_dir / "chroma"), "run", "--path", chroma_path, "--host", c.services_host, "--port",
                 str(c.chroma_port)],
                60,
            ),
            (
                Service("dagster", 0, f"http://{services}:{c.dagster_port}",
                        f"http://{services}:{c.dagster_port}/server_info", str(c.logs / "dagster.log")),
                [str(bin_dir / "dagster"), "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"), "-h", c.services_host,
                 "-p", str(c.dagster_port)],
                240,
            ),
            (
                Service("api", 0, f"http://{_reachable(c.host)}:{c.api_port}",
                        f"http://{_reachable(c.host)}:{c.api_port}/health",
                        str(c.logs / "api.log")),
                [str(bin_dir / "lakehouse"), "api", "--host", c.host, "--port", str(c.api_port)],
                120,
            ),
        ]  # fmt: skip

    def _write_state(self) -> None:
        state = {
            "supervisor": os.getpid(),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "services": [asdict(s) for s, _ in self.procs],
        }
        self.config.state_file.parent.mkdir(parents=True, exist_ok=True)
        self.config.state_file.write_text(json.dumps(state, indent=1))

    def running(self) -> bool:
        return all(p.poll() is None for _, p in self.procs)

    def stop(self, timeout: float = 20.0) -> None:
        for _, p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGINT)  # dagster dev shuts its webserver, daemon and code server down
        for _, p in reversed(self.procs):
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.procs = []
        state = read_state(self.config)
        if state and state.get("supervisor") == os.getpid():
            self.config.state_file.unlink(missing_ok=True)


def status(config: StackConfig) -> list[dict]:
    """Each recorded service: its pid alive? its health URL answering?"""
    state = read_state(config)
    if state is None:
        return []
    return [{**s, "running": _alive(s["pid"]), "healthy": answers(s["health"])} for s in state.get("services", [])]


def down(config: StackConfig, timeout: float = 30.0) -> list[str]:
    """Stop a stack started elsewhere: ask its supervisor (as Ctrl-C would), then stop what is left."""
    state = read_state(config)
    if state is None:
        return []
    supervisor = state.get("supervisor", -1)
    if _alive(supervisor) and supervisor != os.getpid():
        os.kill(supervisor, signal.SIGINT)
        deadline = time.monotonic() + timeout
        while _alive(supervisor) and time.monotonic() < deadline:
            time.sleep(0.2)
    stopped = []
    for s in state.get("services", []):
        if _alive(s["pid"]):
            for sig in (signal.SIGINT, signal.SIGKILL):
                try:
                    os.killpg(s["pid"], sig)
                except ProcessLookupError:
                    break
                deadline = time.monotonic() + (timeout if sig == signal.SIGINT else 5)
                while _alive(s["pid"]) and time.monotonic() < deadline:
                    time.sleep(0.2)
                if not _alive(s["pid"]):
                    break
        stopped.append(s["name"])
    config.state_file.unlink(missing_ok=True)
    return stopped
