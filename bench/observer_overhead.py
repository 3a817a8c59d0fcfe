"""What the observer middleware costs a request: the same API, recording every /v1 call
(sample rate 1.0) vs recording none (0.0), measured in the same run, in-process over ASGI.

    .venv/bin/python -m bench.observer_overhead --requests 2000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import ApiSettings
from bench import stats


def _latencies(rate: float, home: Path, n: int) -> list[float]:
    settings = ApiSettings(
        home=home, report_to_dagster=False, warm_embedder=False, observer_sample_rate=rate, _env_file=None
    )
    with TestClient(create_app(settings)) as client:
        for _ in range(50):  # warm up
            client.get("/v1/datasets")
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            client.get("/v1/datasets")
            out.append((time.perf_counter() - t0) * 1000)
        client.app.state.services.observer.flush()
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        # interleave the two settings so machine noise hits both alike
        off, on = [], []
        for round_ in range(3):
            off += _latencies(0.0, Path(tmp) / f"off{round_}", args.requests // 3)
            on += _latencies(1.0, Path(tmp) / f"on{round_}", args.requests // 3)
        for name, lat in (("recording off (raw)", off), ("recording every call", on)):
            lat.sort()
            rows.append((name, stats.p50(lat), stats.p99(lat)))
    print(f"{'GET /v1/datasets':28} {'p50 ms':>8} {'p99 ms':>8}")
    for name, p50, p99 in rows:
        print(f"{name:28} {p50:8.3f} {p99:8.3f}")
    print(f"ratio p50 on/off: {rows[1][1] / rows[0][1]:.3f}   p99: {rows[1][2] / rows[0][2]:.3f}")


if __name__ == "__main__":
    main()
