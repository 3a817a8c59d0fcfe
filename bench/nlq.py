"""Plain-words staffing queries: precision@10 per query family for dense-only, keyword-only and hybrid search
with parsed constraints, side by side, and the hybrid path's latency.

    python -m bench.nlq --rows 10000 --rows 100000        (make bench-nlq)

For each size: a lake with that many sample workers (ingest, the workers corpus, its vector index in a
local Chroma folder, all through the same core functions the assets call), then the labeled query set
of core/retrieval/evaluation.py through POST /v1/matrix/search in-process (FastAPI TestClient), once per mode.
Then the same for a second roster (core/sample/other_roster.py: other role names, hyphenated certifications, its
own skills) with its own labeled set (`--other-rows`, default 10,000). Ground truth is SQL over the
roster's structured columns. Latency: the hybrid queries again, warm,
three passes; `elapsed_ms` is the server's own figure (parse, embed, constraint mask, vector query,
keyword fusion), the other column adds the in-process HTTP layer.

Writes bench/results/nlq.json and bench/results/nlq.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.stats import p95

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
MODES = ("dense", "keyword", "hybrid")
EXAMPLE = "welder in Ohio with at least 10 years, not on nights"
T0 = time.monotonic()


def say(msg: str) -> None:
    print(f"[{time.monotonic() - T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


def build_lake(home: Path, rows: int, other: bool = False) -> None:
    """Ingest `rows` sample workers (of the second roster's roles if `other`), build the workers corpus and
    index it (what the assets do)."""
    import duckdb
    from tqdm import tqdm

    from lakehouse_assets.core.ingest.csv import IngestLimits, ingest_csv
    from lakehouse_assets.core.lake.handle import Lake
    from lakehouse_assets.core.retrieval.corpora import WORKERS, build_corpus, documents_table
    from lakehouse_assets.core.sample.generate import write_workers_csv
    from lakehouse_assets.core.settings import LakehouseSettings
    from lakehouse_assets.core.vectors.embedder import embedder_from_settings
    from lakehouse_assets.core.vectors.indexing import sync_index
    from lakehouse_assets.core.vectors.store import open_vector_store

    settings = LakehouseSettings(home=home, _env_file=None)
    lake = Lake.open(settings)
    csv = home / "workers.csv"
    home.mkdir(parents=True, exist_ok=True)
    from lakehouse_assets.core.sample.other_roster import OTHER_ROLES
    from lakehouse_assets.core.sample.roster_data import ROLES

    write_workers_csv(csv, rows, seed=7 if other else 42, roles=OTHER_ROLES if other else ROLES)
    ingest_csv(csv, "workers", lake=lake, limits=IngestLimits(max_bytes=1 << 40))
    conn = duckdb.connect()
    build_corpus(WORKERS, conn, lake=lake)
    docs = documents_table(WORKERS, conn, lake=lake)
    store = open_vector_store(settings)
    with tqdm(total=docs.num_rows, desc=f"index {rows:,}", unit="doc", file=sys.stderr, mininterval=1) as bar:
        seen = {"n": 0}

        def progress(done: int, total: int) -> None:
            bar.update(done - seen["n"])
            seen["n"] = done

        sync_index(WORKERS.index, docs, WORKERS.metadata, embedder=embedder_from_settings(settings).inner,
                   store=store, hnsw=settings.hnsw, progress=progress)  # fmt: skip


def lake_rows(home: Path) -> int:
    from lakehouse_assets.core.lake.catalog import Catalog
    from lakehouse_assets.core.lake.storage import open_storage
    from lakehouse_assets.core.settings import LakehouseSettings

    return Catalog(open_storage(LakehouseSettings(home=home, _env_file=None))).get("workers").row_count


def wait_until_ranked_by_meaning(client: Any, corpus: str, limit: float = 1800) -> float:
    """Seconds until the API holds every document's vector in memory and its keyword index is ready: precision is
    measured in the steady state (while a large roster's vectors load, hybrid answers from keywords and the
    part already read; bench/first_answer.py measures that phase)."""
    start = time.perf_counter()
    while True:
        frame = client.get("/health").json().get("search_frames", {}).get(corpus, {})
        loaded = frame and frame["vectors_in_memory"] >= frame["entities"] and not frame["vectors_loading"]
        if loaded and frame.get("keyword_index") in ("ready", "on first use"):
            return time.perf_counter() - start
        if time.perf_counter() - start > limit:
            raise RuntimeError(f"the {corpus} frame was not loaded within {limit:.0f} s: {frame}")
        time.sleep(0.5)


def measure(home: Path, passes: int, other: bool = False) -> dict[str, Any]:
    import duckdb
    from fastapi.testclient import TestClient

    from api.main import create_app
    from api.settings import ApiSettings
    from lakehouse_assets.core.lake.catalog import Catalog
    from lakehouse_assets.core.lake.storage import open_storage
    from lakehouse_assets.core.retrieval.evaluation import OTHER_QUERIES, QUERIES, by_family, evaluate, ground_truth
    from lakehouse_assets.core.settings import LakehouseSettings

    settings = LakehouseSettings(home=home, _env_file=None)
    catalog = Catalog(open_storage(settings))
    conn = duckdb.connect()
    conn.execute(f"CREATE VIEW workers AS SELECT * FROM read_parquet('{home / catalog.get('workers').object_key}')")
    queries = OTHER_QUERIES if other else QUERIES
    truth = ground_truth(conn, queries)
    out: dict[str, Any] = {"families": {}, "queries": {}}
    with TestClient(create_app(ApiSettings(home=home, report_to_dagster=False, _env_file=None))) as client:

        def search(query: str, mode: str) -> dict[str, Any]:
            r = client.post("/v1/matrix/search", json={"query": query, "corpora": ["workers"], "k": 10, "mode": mode})
            r.raise_for_status()
            return r.json()

        search("warm up the model, the frame and the keyword index", "hybrid")
        ready = wait_until_ranked_by_meaning(client, "workers")
        say(f"every vector in memory and the keyword index ready after {ready:.1f} s")
        r = client.post("/v1/matrix/search", json={"query": EXAMPLE, "corpora": ["workers"], "k": 3})
        out["example"] = r.json()
        for mode in MODES:
            rows = evaluate(lambda q, mode=mode: [h["entity_id"] for h in search(q, mode)["hits"]], truth, queries)
            out["families"][mode] = by_family(rows)
            out["queries"][mode] = [r.__dict__ for r in rows]
            say(f"{mode}: " + ", ".join(f"{k} {v:.2f}" for k, v in out["families"][mode].items()))
        server_ms, client_ms = [], []
        for _ in range(passes):
            for q in queries:
                start = time.perf_counter()
                body = search(q.query, "hybrid")
                client_ms.append((time.perf_counter() - start) * 1000)
                server_ms.append(body["elapsed_ms"])
    q95 = p95(server_ms)
    out["latency_ms"] = {
        "server_p50": statistics.median(server_ms),
        "server_p95": q95,
        "in_process_http_p50": statistics.median(client_ms),
        "samples": len(server_ms),
    }
    say(f"hybrid latency: server p50 {statistics.median(server_ms):.1f} ms, p95 {q95:.1f} ms")
    return out


def markdown(results: dict[str, Any]) -> str:
    families = ["role+certification", "location", "shift", "language", "experience", "rate", "availability",
                "negation", "constrained", "paraphrase", "absent role"]  # fmt: skip
    lines = ["# Plain-words queries: precision@10 by query family", ""]
    for rows, r in results["runs"].items():
        size, _, roster = rows.partition(" ")
        title = f"{int(size):,} workers" + (" of the second roster (core/sample/other_roster.py)" if roster else "")
        lines += [f"## {title}", "", "| family | dense only | keyword only | hybrid + constraints |",
                  "|---|---:|---:|---:|"]  # fmt: skip
        for f in families:
            cells = [f"{r['families'][m].get(f, float('nan')):.2f}" for m in MODES]
            lines.append(
                f"| {'**constrained (all 7 above)**' if f == 'constrained' else f} | " + " | ".join(cells) + " |"
            )
        lat = r["latency_ms"]
        lines += ["", f"Hybrid latency, warm ({lat['samples']} searches): server p50 {lat['server_p50']:.1f} ms, "
                  f"p95 {lat['server_p95']:.1f} ms (parse + embed + constraints + vector query + keyword fusion); "
                  f"through the in-process HTTP layer p50 {lat['in_process_http_p50']:.1f} ms.", ""]  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.nlq", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--rows", type=int, action="append", help="workers (repeat for several sizes)")
    parser.add_argument("--passes", type=int, default=3, help="warm passes over the query set for latency")
    parser.add_argument("--other-rows", type=int, default=10_000,
                        help="workers of the second roster, its own labeled set (0: not run)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--lake", type=Path, action="append", default=[],
        help="reuse the work folder `python -m bench.scale --keep` left (its lake and Chroma folder) "
        "instead of building one",
    )  # fmt: skip
    args = parser.parse_args(argv)
    sizes = args.rows or ([] if args.lake else [10_000, 100_000])
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    results: dict[str, Any] = {"runs": {}}
    for lake in args.lake:
        home = lake / "home"
        if not (home / "chroma").exists() and (lake / "chroma").is_dir():
            (home / "chroma").symlink_to(lake / "chroma")  # the scale bench's server folder, opened in-process
        rows = lake_rows(home)
        say(f"reusing the lake in {lake} ({rows:,} workers)")
        results["runs"][str(rows)] = measure(home, args.passes)
    runs = [(rows, False) for rows in sizes] + ([(args.other_rows, True)] if args.other_rows else [])
    for rows, other in runs:
        work = Path(tempfile.mkdtemp(prefix="bench-nlq-"))
        try:
            say(f"building a lake of {rows:,} workers{' of the second roster' if other else ''}")
            build_lake(work / "home", rows, other)
            results["runs"][f"{rows} other" if other else str(rows)] = measure(work / "home", args.passes, other)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "nlq.json").write_text(json.dumps(results, indent=2) + "\n")
    text = markdown(results)
    (args.out / "nlq.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
