"""kill -9 the API in the middle of the work, restart it, and check that nothing half-done is
visible, the journals replay, and running the work again finishes it."""

from __future__ import annotations

import io
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyarrow.csv as pacsv
import pytest

from lakehouse_assets.core.sample.generate import generate_workers
from lakehouse_assets.services import wait_until_answers
from tests.chroma_server import free_port

LAKEHOUSE = str(Path(sys.executable).parent / "lakehouse")


class ApiProcess:
    """`lakehouse api` as a real process over a lake folder, killable with SIGKILL."""

    def __init__(self, home: Path) -> None:
        self.home, self.port = home, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "LAKEHOUSE_HOME": str(self.home),
            "LAKEHOUSE_REPORT_TO_DAGSTER": "false",
            "LAKEHOUSE_WARM_EMBEDDER": "false",
            "DAGSTER_HOME": str(self.home / "dagster"),
        }
        env.pop("LAKEHOUSE_CHROMA_URL", None)
        log = open(self.home.parent / f"api-{self.port}.log", "ab")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(
            [LAKEHOUSE, "api", "--port", str(self.port), "--workers", "1"],  # kill -9 of the server itself
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_until_answers(f"{self.url}/health", self.proc, 60, "the API")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiProcess]:
    (tmp_path / "lake").mkdir()
    process = ApiProcess(tmp_path / "lake")
    process.start()
    yield process
    process.stop()


def csv_bytes(rows: int, seed: int) -> bytes:
    out = io.BytesIO()
    pacsv.write_csv(generate_workers(rows, seed=seed), out)
    return out.getvalue()


def test_kill_during_ingest_leaves_the_last_version_whole(api: ApiProcess):
    small, large = csv_bytes(1000, 1), csv_bytes(100_000, 2)
    assert (
        httpx.post(f"{api.url}/v1/ingest?name=workers", content=small, headers={"content-type": "text/csv"}).status_code
        == 201
    )

    def body() -> Iterator[bytes]:
        step = 1 << 20
        for i in range(0, len(large), step):
            if i >= len(large) // 2:
                api.kill9()  # half the file is on the server's disk
            yield large[i : i + step]

    with pytest.raises(httpx.HTTPError):
        httpx.post(
            f"{api.url}/v1/ingest?name=workers", content=body(), headers={"content-type": "text/csv"}, timeout=60
        )

    api.start()
    manifest = httpx.get(f"{api.url}/v1/datasets/workers").json()
    assert manifest["version"] == 1 and manifest["row_count"] == 1000 and len(manifest["versions"]) == 1
    rows = httpx.post(f"{api.url}/v1/sql", json={"sql": "SELECT count(*) FROM workers"}).json()["rows"]
    assert rows == [[1000]]
    objects = sorted(p.name for p in (api.home / "datasets" / "workers").rglob("*.parquet"))
    assert len(objects) == 1  # no orphaned half-written object next to the live one

    again = httpx.post(
        f"{api.url}/v1/ingest?name=workers", content=large, headers={"content-type": "text/csv"}, timeout=120
    )
    assert again.status_code == 201 and again.json()["version"] == 2 and again.json()["row_count"] == 100_000


def test_kill_during_an_upsert_then_the_rerun_finishes(api: ApiProcess):
    rng = random.Random(3)
    assert httpx.post(f"{api.url}/v1/vectors/points", json={"model": "test-64d", "dimension": 64}).status_code == 201
    batches = [
        [{"id": f"{b}-{i}", "vector": [rng.random() for _ in range(64)], "metadata": {"b": b}} for i in range(1000)]
        for b in range(12)
    ]
    client = httpx.Client(base_url=api.url, timeout=60)
    assert client.post("/v1/vectors/points/add", json={"items": batches[0]}).status_code == 200

    # several batches in flight, and the process dies under them
    errors: list[Exception] = []

    def send(batch: list[dict]) -> None:
        try:
            httpx.post(f"{api.url}/v1/vectors/points/add", json={"items": batch}, timeout=60)
        except httpx.HTTPError as e:
            errors.append(e)

    threads = [threading.Thread(target=send, args=(b,)) for b in batches[1:]]
    for t in threads:
        t.start()
    time.sleep(0.5)
    api.kill9()
    for t in threads:
        t.join()

    api.start()
    client = httpx.Client(base_url=api.url, timeout=60)
    index = next(i for i in client.get("/v1/vectors").json()["indexes"] if i["name"] == "points")
    assert errors, "the kill came after every upsert had finished: nothing was interrupted"
    assert 1000 <= index["count"] <= 12_000 and index["dimension"] == 64
    for batch in batches[1:]:  # the caller's retry: upserts are idempotent
        assert client.post("/v1/vectors/points/add", json={"items": batch}).status_code == 200
    index = next(i for i in client.get("/v1/vectors").json()["indexes"] if i["name"] == "points")
    assert index["count"] == 12_000
    hit = client.post("/v1/vectors/points/search", json={"vector": batches[5][7]["vector"], "k": 1}).json()["hits"][0]
    assert hit["id"] == "5-7"


def test_journals_replay_after_a_kill(api: ApiProcess):
    uids = []
    for i in range(20):
        r = httpx.post(f"{api.url}/v1/pathway/traces", json={"content": {"n": i}, "tags": ["crash"]})
        uids.append(r.json()["uid"])
    httpx.post(f"{api.url}/v1/observer/event", json={"endpoint": "e", "source": "scenario", "ok": True})
    api.kill9()
    journal = api.home / "journal" / "pathway.jsonl"
    with open(journal, "ab") as f:
        f.write(b'{"op": "add", "trace": {"uid": "torn')  # the write the kill interrupted
    api.start()
    stats = httpx.get(f"{api.url}/v1/pathway/stats").json()
    assert stats["traces"] == 20 and stats["skipped_lines"] == 1
    assert httpx.get(f"{api.url}/v1/pathway/traces/{uids[-1]}").json()["content"] == {"n": 19}
    observer = httpx.get(f"{api.url}/v1/observer/stats").json()
    assert observer["replayed"] >= 1 and observer["recent_scenario"][-1]["endpoint"] == "e"
    assert httpx.post(f"{api.url}/v1/pathway/traces", json={"content": {"n": 20}}).status_code == 201
