"""Load harness: a running lakehouse API under a mix of staffing traffic for a bounded time.

Scenarios: matrix search, fill validation (against the roster), profile swap (search again excluding
the workers already seen), repeated queries (the embedding cache), SMS validation, and playbook
record + replay (search with use_playbook). Prints, per scenario, the count, failure rate (anything
but a 2xx, or a 422 where validation is the point), p50 and p99, and the API process's RSS.

    make demo                                   # the 100,000-worker sample, in another terminal
    .venv/bin/python -m bench.load --seconds 60 --concurrency 8
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil

from bench import stats

ROLES = ["forklift operator", "welder", "electrician", "CNA", "line cook", "CDL truck driver", "warehouse associate"]
STATES = ["IL", "OH", "TX", "MI", "IN", "WI", "GA"]
RESULTS = Path(__file__).parent / "results" / "load.json"


def api_process(port: int) -> psutil.Process | None:
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
            return psutil.Process(conn.pid)
    return None


class Load:
    def __init__(self, client: httpx.Client, seed: int) -> None:
        self.client = client
        self.rng = random.Random(seed)
        rows = client.post(
            "/v1/sql",
            json={"sql": "SELECT CAST(worker_id AS VARCHAR), shift FROM workers WHERE availability = 'available' "
                  "LIMIT 2000", "limit": 2000},
        ).json()["rows"]  # fmt: skip
        if not rows:
            raise SystemExit("the API has no available workers: run `make demo` (or ingest a workers dataset) first")
        self.available = rows

    def _query(self) -> str:
        return f"{self.rng.choice(ROLES)} in {self.rng.choice(STATES)}"

    def search(self) -> httpx.Response:
        return self.client.post("/v1/matrix/search", json={"query": self._query(), "k": 10})

    def fill_validate(self) -> httpx.Response:
        shift = self.rng.choice(["day", "night", "swing"])
        pool = [w for w, s in self.available if s == shift] or [w for w, _ in self.available]
        ids = self.rng.sample(pool, k=min(3, len(pool)))
        payload = {
            "contract_id": "LOAD",
            "target_count": 3,
            "candidates": [{"worker_id": i, "reason": "x"} for i in ids],
        }
        return self.client.post("/v1/validate", json={"kind": "fill", "payload": payload, "context": {"shift": shift}})

    def profile_swap(self) -> httpx.Response:
        query = self._query()
        first = self.client.post("/v1/matrix/search", json={"query": query, "k": 5}).json().get("hits", [])
        seen = [h["entity_id"] for h in first]
        return self.client.post("/v1/matrix/search", json={"query": query, "k": 5, "exclude_ids": seen})

    def repeated(self) -> httpx.Response:
        return self.client.post("/v1/matrix/search", json={"query": "forklift operator with OSHA 10 in IL", "k": 10})

    def sms_validate(self) -> httpx.Response:
        body = f"Hi, your {self.rng.choice(['day', 'night'])} shift starts at {self.rng.randint(5, 9)}am."
        return self.client.post("/v1/validate", json={"kind": "sms", "payload": {"to": "+13125550147", "body": body}})

    def playbook(self) -> httpx.Response:
        query = self._query()
        ids = [w for w, _ in self.rng.sample(self.available, k=2)]
        r = self.client.post("/v1/matrix/playbooks/record", json={"query": query, "endorsed_ids": ids})
        if r.status_code >= 300:
            return r
        return self.client.post("/v1/matrix/search", json={"query": query, "k": 10, "use_playbook": True})


SCENARIOS: dict[str, Callable[[Load], httpx.Response]] = {
    "search": Load.search,
    "fill_validate": Load.fill_validate,
    "profile_swap": Load.profile_swap,
    "repeated_query": Load.repeated,
    "sms_validate": Load.sms_validate,
    "playbook_record_replay": Load.playbook,
}
WEIGHTS = {
    "search": 4,
    "fill_validate": 3,
    "profile_swap": 2,
    "repeated_query": 2,
    "sms_validate": 2,
    "playbook_record_replay": 1,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--api-url", default="http://127.0.0.1:8000")
    parser.add_argument("--token", default=None)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    port = httpx.URL(args.api_url).port or 80
    proc = api_process(port)
    samples: dict[str, list[float]] = defaultdict(list)
    failures: dict[str, int] = defaultdict(int)
    statuses: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    errors: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))  # status 0: which transport error
    rss_peak = proc.memory_info().rss if proc else 0
    lock = threading.Lock()
    deadline = time.monotonic() + args.seconds

    def worker(seed: int) -> None:
        nonlocal rss_peak
        with httpx.Client(base_url=args.api_url, headers=headers, timeout=60) as client:
            load = Load(client, seed)
            rng = random.Random(seed)
            names, weights = list(WEIGHTS), list(WEIGHTS.values())
            while time.monotonic() < deadline:
                name = rng.choices(names, weights)[0]
                t0 = time.perf_counter()
                error = None
                try:
                    status = SCENARIOS[name](load).status_code
                except httpx.HTTPError as e:
                    status, error = 0, type(e).__name__
                ms = (time.perf_counter() - t0) * 1000
                with lock:
                    if error:
                        errors[name][error] += 1
                    samples[name].append(ms)
                    statuses[name][status] += 1
                    if not 200 <= status < 300 and not (name == "fill_validate" and status == 422):
                        failures[name] += 1
                    if proc is not None and len(samples[name]) % 50 == 0:
                        rss_peak = max(rss_peak, proc.memory_info().rss)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    rows = []
    print(f"{args.concurrency} clients for {args.seconds:.0f} s against {args.api_url}")
    print(f"{'scenario':24} {'count':>7} {'failed':>7} {'p50 ms':>9} {'p99 ms':>9}")
    for name in SCENARIOS:
        lat = sorted(samples[name])
        if not lat:
            continue
        p50, p99 = stats.p50(lat), stats.p99(lat)
        rate = failures[name] / len(lat)
        rows.append({"scenario": name, "count": len(lat), "failure_rate": rate, "p50_ms": p50, "p99_ms": p99,
                     "statuses": dict(statuses[name]), "errors": dict(errors[name])})  # fmt: skip
        print(f"{name:24} {len(lat):7d} {rate:7.2%} {p50:9.1f} {p99:9.1f}")
        if errors[name]:
            print(f"{'':24} no response: {', '.join(f'{n} {e}' for e, n in sorted(errors[name].items()))}")
    rss_mib = rss_peak / 2**20 if proc else None
    print(f"API process RSS (peak sampled): {rss_mib:.0f} MiB" if rss_mib else "API process not found (RSS unknown)")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"concurrency": args.concurrency, "seconds": args.seconds, "rss_mib": rss_mib,
                                   "scenarios": rows}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
