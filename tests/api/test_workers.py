"""`lakehouse api --workers 2`: two processes behind one port, sharing the lake, the Chroma server and the
journals, answer as one API: what one worker writes, the other reads at once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from lakehouse_assets.services import wait_until_answers
from tests.chroma_server import free_port

LAKEHOUSE = str(Path(sys.executable).parent / "lakehouse")


@pytest.fixture
def two_workers(tmp_path: Path, chroma_server_url: str) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "LAKEHOUSE_HOME": str(tmp_path / "lake"),
        "LAKEHOUSE_CHROMA_URL": chroma_server_url,
        "LAKEHOUSE_REPORT_TO_DAGSTER": "false",
        "LAKEHOUSE_WARM_EMBEDDER": "false",
        "DAGSTER_HOME": str(tmp_path / "dagster"),
    }
    log = open(tmp_path / "api.log", "ab")  # noqa: SIM115 - the child keeps it
    proc = subprocess.Popen(
        [LAKEHOUSE, "api", "--port", str(port), "--workers", "2"], env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answers(f"{url}/health", proc, 120, "the API")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def burst(url: str, method: str, path: str, n: int = 24, **kw: object) -> list[httpx.Response]:
    """`n` requests at once, each on its own connection (so the workers share them)."""

    def one(_: int) -> httpx.Response:
        with httpx.Client(base_url=url, timeout=30) as client:
            return client.request(method, path, **kw)  # type: ignore[arg-type]

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def test_two_workers_answer_as_one_api(two_workers: str) -> None:
    processes: set[int] = set()
    for _ in range(20):  # both workers take connections
        processes |= {r.json()["process"] for r in burst(two_workers, "GET", "/health")}
        if len(processes) == 2:
            break
    assert len(processes) == 2, processes

    added = httpx.post(f"{two_workers}/v1/pathway/traces", json={"content": {"text": "night forklift fill"}})
    assert added.status_code == 201, added.text
    uid = added.json()["uid"]
    got = burst(two_workers, "GET", f"/v1/pathway/traces/{uid}")
    assert [r.status_code for r in got] == [200] * len(got)  # whichever worker answers knows the trace

    retired = httpx.post(f"{two_workers}/v1/pathway/traces/{uid}/retire")
    assert retired.status_code == 200 and retired.json()["retired"]
    updates = burst(two_workers, "PUT", f"/v1/pathway/traces/{uid}", n=8, json={"content": {"text": "x"}})
    assert {r.status_code for r in updates} == {409}, [r.text for r in updates]  # every worker: retired

    event = {"endpoint": "workers-test", "source": "scenario", "ok": True, "latency_ms": 3.0}
    assert httpx.post(f"{two_workers}/v1/observer/event", json=event).status_code == 201
    stats = burst(two_workers, "GET", "/v1/observer/stats")
    assert all(r.json()["by_endpoint"]["workers-test"]["count"] == 1 for r in stats)

    # a playbook one worker journals is matched by the next search on either, before any index holds it
    recorded = httpx.post(
        f"{two_workers}/v1/matrix/playbooks/record", json={"query": "night forklift fill", "endorsed_ids": ["7"]},
        timeout=60,
    )  # fmt: skip
    assert recorded.status_code == 201 and recorded.json()["indexed"] == 1, recorded.text
    body = {"query": "night forklift fill", "use_playbook": True}
    searches = burst(two_workers, "POST", "/v1/matrix/search", n=16, json=body)  # both workers take some (above)
    assert [r.json()["playbooks_matched"] for r in searches] == [1] * 16, [r.text for r in searches]


def test_several_workers_without_a_chroma_server_are_refused(tmp_path: Path) -> None:
    env = {**os.environ, "LAKEHOUSE_HOME": str(tmp_path / "lake")}
    env.pop("LAKEHOUSE_CHROMA_URL", None)
    done = subprocess.run(
        [LAKEHOUSE, "api", "--port", str(free_port()), "--workers", "2"], env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and "LAKEHOUSE_CHROMA_URL" in done.stderr and "--workers 1" in done.stderr
