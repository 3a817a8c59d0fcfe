"""A fresh demo's first minutes, as a newcomer sees them: when does search answer, and answer by meaning?

    python -m bench.first_answer [--rows 100000] [--timeout 1200]

Runs `lakehouse demo --rows N` in a throwaway lake and Dagster home (on free ports) and, from its first
second, asks the API the README's example search (`"forklift operator with OSHA 10"`, state IL) and a
paraphrase with nothing to parse, every half second. Records: when `/health` first answered, when the
demo printed its URLs, the first constrained answer with hits, the first hit ranked by meaning (a
similarity), which model answered when, when the full model's index held every document, and every 5xx
(or transport error) on the way. Prints the timeline and the issue's targets; writes
bench/results/first_answer.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from lakehouse_assets.core.vectors.embedder import DEFAULT_BACKEND, LOCAL_MODEL, ONNX_MODEL
from tests.chroma_server import free_port

RESULTS = Path(__file__).parent / "results" / "first_answer.json"
README = {"query": "forklift operator with OSHA 10", "k": 3, "filter": {"state": "IL"}}
PARAPHRASE = {"query": "moves pallets around a warehouse on a lift truck", "k": 3, "corpora": ["workers"]}
FULL_MODEL = {"onnx": ONNX_MODEL, "local": LOCAL_MODEL}.get(DEFAULT_BACKEND, "")


class Timeline:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.events: dict[str, float] = {}
        self.models: list[tuple[float, str]] = []
        self.failures: list[tuple[float, str]] = []
        self.answers = 0

    def now(self) -> float:
        return round(time.monotonic() - self.started, 1)

    def mark(self, event: str) -> None:
        if event not in self.events:
            self.events[event] = self.now()
            print(f"{self.events[event]:7.1f} s  {event}", flush=True)


def watch_output(proc: subprocess.Popen, timeline: Timeline, log: Path) -> None:
    with log.open("w") as out:
        for line in proc.stdout:  # type: ignore[union-attr]
            out.write(line)
            out.flush()
            if "lakehouse is up" in line:
                timeline.mark("urls printed")


def probe(api: str, timeline: Timeline, stop: threading.Event) -> None:
    with httpx.Client(base_url=api, timeout=30) as client:
        while not stop.is_set():
            try:
                if client.get("/health").status_code == 200:
                    timeline.mark("/health answers")
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        while not stop.is_set():
            for name, body in (("readme", README), ("paraphrase", PARAPHRASE)):
                try:
                    r = client.post("/v1/matrix/search", json=body)
                except httpx.TransportError as e:
                    timeline.failures.append((timeline.now(), f"{name}: {type(e).__name__}"))
                    continue
                if r.status_code >= 500:
                    timeline.failures.append((timeline.now(), f"{name}: {r.status_code} {r.text[:200]}"))
                    continue
                if r.status_code != 200:
                    timeline.failures.append((timeline.now(), f"{name}: {r.status_code} {r.text[:200]}"))
                    continue
                timeline.answers += 1
                found = r.json()
                index = found.get("index") or {}
                hits = found["hits"]
                if name == "readme" and hits:
                    timeline.mark("first constrained answer with hits")
                if any(h.get("similarity") is not None for h in hits):
                    timeline.mark(f"first hit by meaning ({name})")
                model = index.get("model", "")
                if model and (not timeline.models or timeline.models[-1][1] != model):
                    timeline.models.append((timeline.now(), model))
                    print(f"{timeline.now():7.1f} s  answering with {model}", flush=True)
                if index.get("state") == "ready" and model == FULL_MODEL:
                    timeline.mark("full model's index complete")
                    stop.set()
            time.sleep(0.5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--timeout", type=float, default=1200.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--keep", type=Path, help="run in this (new) folder and keep the lake and Dagster home")
    args = parser.parse_args()

    ports = {"--api-port": free_port(), "--dagster-port": free_port(), "--chroma-port": free_port()}
    if args.keep:
        args.keep.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="first-answer-") as tmp:
        home = args.keep.resolve() if args.keep else Path(tmp)
        env = {**os.environ, "LAKEHOUSE_HOME": str(home / "lake"), "DAGSTER_HOME": str(home / "dagster")}
        env.pop("LAKEHOUSE_CHROMA_URL", None)
        command = [str(Path(sys.executable).parent / "lakehouse"), "demo", "--rows", str(args.rows)]
        command += [str(x) for kv in ports.items() for x in kv]
        timeline = Timeline()
        demo = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        stop = threading.Event()
        threading.Thread(target=watch_output, args=(demo, timeline, home / "demo.log"), daemon=True).start()
        prober = threading.Thread(target=probe, args=(f"http://127.0.0.1:{ports['--api-port']}", timeline, stop))
        prober.start()
        prober.join(args.timeout)
        stop.set()
        prober.join(60)
        os.killpg(demo.pid, signal.SIGINT)
        try:
            demo.wait(120)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
        log_tail = (home / "demo.log").read_text()[-3000:]

    events = timeline.events
    health, urls = events.get("/health answers"), events.get("urls printed")
    constrained = events.get("first constrained answer with hits")
    meaning = min((v for k, v in events.items() if k.startswith("first hit by meaning")), default=None)
    full = events.get("full model's index complete")
    checks = [
        ("no 5xx or transport error", not timeline.failures),
        ("constrained hits within 5 s of /health", None not in (health, constrained) and constrained - health <= 5),
        ("first hit by meaning within 60 s of the URLs", None not in (urls, meaning) and meaning - urls <= 60),
        ("full model's index within 8 min of the URLs", None not in (urls, full) and full - urls <= 480),
    ]
    print(f"\n{args.rows:,} workers, {timeline.answers} answers, {len(timeline.failures)} failures")
    for t, what in timeline.failures[:10]:
        print(f"  {t:7.1f} s  {what}")
    for label, ok in checks:
        print(f"  {'PASS' if ok else 'MISS'}  {label}")
    if full is None:
        print("demo log tail:\n" + log_tail)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "rows": args.rows,
                "events_s": events,
                "models": timeline.models,
                "answers": timeline.answers,
                "failures": timeline.failures,
                "checks": dict(checks),
            },
            indent=2,
        )
    )
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
