"""Retrieval benchmark: lakehouse's embedding, indexing and search against the raw libraries, in one run.

    python -m bench.retrieval [--rows 100000] [--queries 200]

Everything runs against one real Chroma server (`chroma run`, started with tests/chroma_server.py)
and one loaded all-MiniLM-L6-v2, over the `workers` corpus documents of `--rows` sample workers
(the corpus SQL over `generate_workers(rows)` in an in-memory DuckDB):

1. Embedding throughput: raw `SentenceTransformer.encode` (same model object, same batch size,
   normalized) over every text, vs `sync_index` into an empty index — what the `corpus_embeddings`
   asset does: embed, upsert in batches, with the store's HNSW insertions on the same CPUs. The raw
   encode is called in ~5% chunks (so progress can be printed); each chunk still length-sorts
   thousands of texts, which is all the padding benefit a single call gets.
2. Incremental: availability flips on 1% of the workers, the corpus SQL is recomputed and
   `sync_index` runs again; its time vs the full run's.
3. Recall@10: top-10 of the index (a raw `collection.query`) vs exact cosine top-10 in numpy over
   every vector stored in the index, for `--queries` staffing queries (role + certification + city).
4. Search latency: `POST /v1/matrix/search` (corpora ["workers"], k=10, no playbook) on a running
   API vs the raw path for "text in, top-10 out": `model.encode(query)` + `collection.query`,
   interleaved query by query; also the raw query alone, and with `where state == 'IL'`.
5. Memory: VmRSS of the Chroma server before and after loading the vectors (and after a restart
   over the same folder, once a query has loaded the index), per 100,000 vectors.

Prints a table with the ratios and the issue's targets; writes bench/results/retrieval.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench.stats import p50_p95
from bench.uvicorn_process import UvicornProcess, lakehouse_api

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
K = 10
CHANGE_EVERY = 100  # 1% of the workers change
FILTER = {"state": "IL"}
PHRASINGS = (
    "{role} with {cert} in {city}, {state}",
    "need a {role} holding {cert} near {city}",
    "{cert} certified {role} available in {city} {state}",
    "looking for an experienced {role} ({cert}) for {shift} shifts in {city}",
    "{role}, {cert}, {city} area",
)
T0 = time.monotonic()


def say(msg: str) -> None:
    print(f"[{time.monotonic() - T0:7.1f}s] {msg}", flush=True)


# -- data ---------------------------------------------------------------------------------------------


def corpus_documents(workers: Any) -> Any:
    """The `workers` corpus documents (id, entity_id, text, content_hash, metadata) via the corpus SQL."""
    import duckdb

    from lakehouse_assets.core.retrieval.corpora import WORKERS

    con = duckdb.connect()
    try:
        con.register("workers", workers)
        return con.sql(WORKERS.sql).to_arrow_table()
    finally:
        con.close()


def flip_availability(workers: Any, every: int = CHANGE_EVERY) -> tuple[Any, int]:
    """The workers with availability changed on every `every`-th row; (table, rows changed)."""
    import pyarrow as pa

    from lakehouse_assets.core.sample.roster_data import AVAILABILITY

    values = workers.column("availability").to_pylist()
    changed = 0
    for i in range(0, len(values), every):
        values[i] = AVAILABILITY[(AVAILABILITY.index(values[i]) + 1) % len(AVAILABILITY)]
        changed += 1
    index = workers.schema.get_field_index("availability")
    return workers.set_column(index, "availability", pa.array(values, pa.string())), changed


def staffing_queries(n: int, offset: int = 0) -> list[str]:
    """`n` distinct staffing queries from the sample vocabulary (role + certification + city)."""
    from lakehouse_assets.core.sample.roster_data import CITIES, ROLES, SHIFTS

    out: list[str] = []
    seen: set[str] = set()
    i = offset
    while len(out) < n:
        role = ROLES[i % len(ROLES)]
        cert = role.certs[(i // len(ROLES)) % len(role.certs)] if role.certs else "no certification"
        city = CITIES[(i * 7 + i // len(ROLES)) % len(CITIES)]
        text = PHRASINGS[(i // 3) % len(PHRASINGS)].format(
            role=role.name, cert=cert, city=city.name, state=city.state, shift=SHIFTS[i % len(SHIFTS)]
        )
        if text not in seen:
            seen.add(text)
            out.append(text)
        i += 1
    return out


# -- processes ----------------------------------------------------------------------------------------


def server_pid(port: int) -> int:
    """The pid of the `chroma run ... --port <port>` process this process started."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == me and b"run" in argv and b"--port" in argv and str(port).encode() in argv:
            return int(entry.name)
    raise RuntimeError(f"no chroma server process on port {port} among this process's children")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def search_api(home: Path, chroma_url: str, env: dict[str, str] | None = None) -> UvicornProcess:
    """The lakehouse API (uvicorn) on a free port, searching the given Chroma server."""
    return lakehouse_api(home, {"LAKEHOUSE_CHROMA_URL": chroma_url, "LAKEHOUSE_WARM_EMBEDDER": "true", **(env or {})})


def wait_until_searching(
    api: UvicornProcess, client: httpx.Client, warmups: Sequence[str], timeout: float = 180
) -> None:
    """Until a search succeeds (the API is up and the model loaded), then the other warm-ups."""
    deadline = time.monotonic() + timeout
    while True:
        if api.proc.poll() is not None:
            raise RuntimeError(f"the API exited with code {api.proc.returncode}")
        try:
            r = client.post(f"{api.url}/v1/matrix/search", json=search_body(warmups[0]))
            if r.status_code == 200:
                break
            last = f"{r.status_code} {r.text[:300]}"
        except httpx.HTTPError as e:
            last = str(e)
        if time.monotonic() > deadline:
            raise RuntimeError(f"the API did not answer a search within {timeout:.0f} s: {last}")
        time.sleep(0.5)
    for text in warmups[1:]:
        client.post(f"{api.url}/v1/matrix/search", json=search_body(text)).raise_for_status()


def search_body(text: str, flt: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"query": text, "corpora": ["workers"], "k": K, "use_playbook": False, "filter": flt}


# -- measuring ----------------------------------------------------------------------------------------


def percent_progress(label: str, step: float = 5.0) -> Callable[[int, int], None]:
    """A progress callback printing a line each time another `step` percent is done."""
    state = {"next": step, "start": time.perf_counter()}

    def report(done: int, total: int) -> None:
        if not total:
            return
        pct = 100.0 * done / total
        if pct + 1e-9 >= state["next"] or done == total:
            rate = done / max(time.perf_counter() - state["start"], 1e-9)
            say(f"  {label}: {done:,}/{total:,} ({pct:.0f}%), {rate:.1f} docs/s")
            while state["next"] <= pct + 1e-9:
                state["next"] += step

    return report


def timed_embedder(inner: Any) -> Any:
    """The embedder, also summing the seconds spent in embed() (to split a sync's time)."""
    from lakehouse_assets.core.vectors.embedder import Embedder

    class Timed(Embedder):
        def __init__(self) -> None:
            self.model = inner.model
            self.dimension = inner.dimension
            self.seconds = 0.0

        def embed(self, texts: Sequence[str]) -> np.ndarray:
            start = time.perf_counter()
            try:
                return inner.embed(texts)
            finally:
                self.seconds += time.perf_counter() - start

        def token_counts(self, texts: Sequence[str]) -> list[int]:
            return inner.token_counts(texts)

    return Timed()


def raw_encode(model: Any, texts: list[str], batch_size: int) -> tuple[np.ndarray, float, float]:
    """(vectors, wall seconds, CPU seconds) of `model.encode` over `texts`, in ~5% chunks."""
    chunk = max(512, -(-len(texts) // 20))
    report = percent_progress("raw encode")
    parts = []
    cpu0, start = self_cpu(), time.perf_counter()
    for at in range(0, len(texts), chunk):
        parts.append(
            model.encode(
                texts[at : at + chunk], batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True
            )
        )
        report(min(at + chunk, len(texts)), len(texts))
    seconds = time.perf_counter() - start
    return np.concatenate(parts).astype(np.float32), seconds, self_cpu() - cpu0


def stored_vectors(collection: Any, page: int = 5000) -> tuple[list[str], np.ndarray]:
    ids: list[str] = []
    parts = []
    offset = 0
    while True:
        got = collection.get(include=["embeddings"], limit=page, offset=offset)
        ids.extend(got["ids"])
        if len(got["ids"]):
            parts.append(np.asarray(got["embeddings"], dtype=np.float32))
        if len(got["ids"]) < page:
            break
        offset += page
    return ids, np.concatenate(parts)


def verdict(ok: bool, target: str) -> str:
    return f"{'PASS' if ok else 'MISS'} ({target})"


# -- the run ------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--throughput-rows",
        type=int,
        default=5000,
        help="documents for the throughput comparison (raw encode vs sync_index on the same texts); "
        "the rest of --rows is then indexed by sync_index alone, for recall, latency and memory",
    )
    args = parser.parse_args()
    if args.queries < 2:
        parser.error("--queries must be at least 2")

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from lakehouse_assets.core.retrieval.corpora import WORKERS
    from lakehouse_assets.core.sample.generate import generate_workers
    from lakehouse_assets.core.settings import LakehouseSettings
    from lakehouse_assets.core.vectors.embedder import LocalEmbedder, _load_local_model, local_model_path
    from lakehouse_assets.core.vectors.indexing import sync_index
    from lakehouse_assets.core.vectors.store import VectorStore
    from tests.chroma_server import run_chroma_server

    work = Path(tempfile.mkdtemp(prefix="bench-retrieval-"))
    settings = LakehouseSettings(home=work / "home", _env_file=None)
    batch = settings.embed_batch_size
    hnsw = settings.hnsw
    n = args.rows
    report: dict[str, Any] = {"rows": n, "queries": args.queries, "batch_size": batch, "hnsw": hnsw}
    try:
        workers = generate_workers(n)
        docs = corpus_documents(workers)
        texts = docs.column("text").to_pylist()
        chars = statistics.mean(len(t) for t in texts)
        say(f"sample: {n:,} workers -> {docs.num_rows:,} documents, {chars:.0f} characters each on average")
        report["mean_text_chars"] = chars

        start = time.perf_counter()
        model = _load_local_model(local_model_path())
        say(f"model loaded in {time.perf_counter() - start:.1f} s")
        model.encode(texts[: 2 * batch], batch_size=batch, normalize_embeddings=True)  # warm

        # 1. raw encode (on the throughput subset)
        t = min(n, args.throughput_rows)
        report["throughput_rows"] = t
        load0 = os.getloadavg()[0]
        raw_vecs, raw_s, raw_cpu = raw_encode(model, texts[:t], batch)
        say(f"raw encode: {raw_s:.1f} s, {t / raw_s:.1f} docs/s over {t:,} documents (load avg before {load0:.2f})")

        queries = staffing_queries(args.queries)
        warmups = staffing_queries(5, offset=10_000)
        assert not set(queries) & set(warmups)
        qvecs = model.encode(queries, batch_size=batch, normalize_embeddings=True, convert_to_numpy=True)

        chroma_path = work / "chroma"
        with run_chroma_server(chroma_path) as url:
            pid = server_pid(int(url.rsplit(":", 1)[1]))
            rss_before = rss_mib(pid)
            store = VectorStore.server(url, default_hnsw=hnsw)
            embedder = timed_embedder(LocalEmbedder(batch_size=batch))

            # 1. ours: sync_index into an empty index
            load1 = os.getloadavg()[0]
            chroma_cpu0, cpu0 = cpu_seconds(pid), self_cpu()
            full = sync_index(
                WORKERS.index, docs.slice(0, t), WORKERS.metadata, embedder=embedder, store=store, hnsw=hnsw,
                progress=percent_progress("sync_index"),
            )  # fmt: skip
            full_cpu, full_chroma_cpu = self_cpu() - cpu0, cpu_seconds(pid) - chroma_cpu0
            full_embed_s = embedder.seconds
            assert full.embedded == t, full
            say(
                f"sync_index on the same {t:,}: {full.seconds:.1f} s, {t / full.seconds:.1f} docs/s; in embed() "
                f"{full_embed_s:.1f} s; chroma server CPU {full_chroma_cpu:.1f} s (load avg before {load1:.2f})"
            )
            rest_seconds = 0.0
            if n > t:
                rest = sync_index(
                    WORKERS.index, docs, WORKERS.metadata, embedder=embedder, store=store, hnsw=hnsw,
                    progress=percent_progress("sync_index (rest)"),
                )  # fmt: skip
                assert rest.embedded == n - t and rest.skipped == t, rest
                rest_seconds = rest.seconds
                say(f"sync_index of the other {n - t:,}: {rest.seconds:.1f} s")
            full_index_seconds = full.seconds + rest_seconds
            rss_after = rss_mib(pid)
            count = store.count(WORKERS.index)
            assert count == n, count

            # 2. incremental after a 1% change
            changed_workers, changed = flip_availability(workers)
            docs2 = corpus_documents(changed_workers)
            embedder.seconds = 0.0
            inc = sync_index(WORKERS.index, docs2, WORKERS.metadata, embedder=embedder, store=store, hnsw=hnsw)
            inc_embed_s = embedder.seconds
            assert inc.embedded == changed and inc.skipped == n - changed and inc.deleted == 0, inc
            say(f"sync_index incremental ({changed:,} changed): {inc.seconds:.2f} s, in embed() {inc_embed_s:.2f} s")
            start = time.perf_counter()
            store.get_metadata(WORKERS.index, "content_hash")
            hash_read_s = time.perf_counter() - start

            # 3. recall@10 + raw query latency
            collection = store.client.get_collection(WORKERS.index, embedding_function=None)
            ids, stored = stored_vectors(collection)
            id_pos = {id_: i for i, id_ in enumerate(ids)}
            doc_pos = {id_: i for i, id_ in enumerate(docs.column("id").to_pylist())}
            unchanged = [
                i
                for i, id_ in enumerate(ids)
                if int(id_.split("-")[1]) % CHANGE_EVERY != 1 and doc_pos[id_] < t  # raw vectors exist for these
            ]
            drift = float(
                np.max(np.abs(stored[unchanged] - raw_vecs[[doc_pos[ids[i]] for i in unchanged]]))
            )  # the index holds what raw encode gives, up to float noise
            include = ["distances", "metadatas", "documents"]
            query_ms, filtered_ms, recalls, recalls_ties = [], [], [], []
            for q in qvecs[:5]:  # warm
                collection.query(query_embeddings=q.reshape(1, -1), n_results=K, include=include)
            for q in qvecs:
                start = time.perf_counter()
                got = collection.query(query_embeddings=q.reshape(1, -1), n_results=K, include=include)
                query_ms.append((time.perf_counter() - start) * 1000)
                sims = stored @ q
                exact = np.argpartition(-sims, K)[:K]
                kth = float(np.min(sims[exact]))
                found = [id_pos[i] for i in got["ids"][0]]
                recalls.append(len(set(found) & set(exact.tolist())) / K)
                recalls_ties.append(sum(sims[i] >= kth - 1e-6 for i in found) / K)
            for q in qvecs:
                start = time.perf_counter()
                got = collection.query(query_embeddings=q.reshape(1, -1), n_results=K, where=FILTER, include=include)
                filtered_ms.append((time.perf_counter() - start) * 1000)
                assert all(m["state"] == "IL" for m in got["metadatas"][0])
            recall, recall_ties = statistics.mean(recalls), statistics.mean(recalls_ties)
            say(f"recall@10 {recall:.4f} (ties counted: {recall_ties:.4f}); stored vs raw max |diff| {drift:.2e}")

            # 4. API vs raw "text in, top-10 out", interleaved query by query
            api = search_api(work / "api-home", url)
            api_ms, api_server_ms, raw_enc_ms, raw_path_ms, api_filtered_ms = [], [], [], [], []
            try:
                with httpx.Client(timeout=120) as client:
                    wait_until_searching(api, client, warmups)
                    say("API ready")
                    endpoint = f"{api.url}/v1/matrix/search"

                    def via_api(text: str) -> None:
                        start = time.perf_counter()
                        r = client.post(endpoint, json=search_body(text))
                        api_ms.append((time.perf_counter() - start) * 1000)
                        r.raise_for_status()
                        api_server_ms.append(r.json()["elapsed_ms"])

                    def via_raw(text: str) -> None:
                        start = time.perf_counter()
                        vec = model.encode([text], batch_size=batch, normalize_embeddings=True, convert_to_numpy=True)
                        encoded = time.perf_counter()
                        collection.query(query_embeddings=vec, n_results=K, include=include)
                        raw_enc_ms.append((encoded - start) * 1000)
                        raw_path_ms.append((time.perf_counter() - start) * 1000)

                    for i, text in enumerate(queries):
                        first, second = (via_api, via_raw) if i % 2 == 0 else (via_raw, via_api)
                        first(text)
                        second(text)
                    # Filtered through the API: the same texts again, so these hit its embedding cache.
                    for text in queries:
                        start = time.perf_counter()
                        client.post(endpoint, json=search_body(text, FILTER)).raise_for_status()
                        api_filtered_ms.append((time.perf_counter() - start) * 1000)
            finally:
                api.stop()
            say("latency measured")

        # 5. memory after a restart over the same folder, once a query has loaded the index
        with run_chroma_server(chroma_path) as url:
            pid = server_pid(int(url.rsplit(":", 1)[1]))
            rss_restart_empty = rss_mib(pid)
            collection = VectorStore.server(url).client.get_collection(WORKERS.index, embedding_function=None)
            collection.query(query_embeddings=qvecs[:1], n_results=K)
            rss_restart = rss_mib(pid)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    raw_rate, ours_rate = t / raw_s, t / full.seconds
    ratio = ours_rate / raw_rate
    inc_share = inc.seconds / full_index_seconds
    qp50, qp95 = p50_p95(query_ms)
    fp50, fp95 = p50_p95(filtered_ms)
    ep50, ep95 = p50_p95(raw_enc_ms)
    rp50, rp95 = p50_p95(raw_path_ms)
    ap50, ap95 = p50_p95(api_ms)
    sp50, sp95 = p50_p95(api_server_ms)
    afp50, afp95 = p50_p95(api_filtered_ms)
    scale = 100_000 / n
    per100k = (rss_after - rss_before) * scale
    per100k_restart = (rss_restart - rss_restart_empty) * scale
    float_mib = 100_000 * 384 * 4 / 2**20

    rows = [
        ("embed: raw model.encode", f"{raw_rate:.1f} docs/s", "1.00x", f"{raw_s:.1f} s, CPU {raw_cpu:.0f} s", ""),
        ("embed: sync_index (asset)", f"{ours_rate:.1f} docs/s", f"{ratio:.2f}x",
         f"{full.seconds:.1f} s: embed {full_embed_s:.1f} s; CPU {full_cpu:.0f} s + chroma {full_chroma_cpu:.0f} s "
         f"({raw_cpu / (full_cpu + full_chroma_cpu):.2f}x by CPU)",
         verdict(ratio >= 0.85, ">=0.85x")),
        (f"incremental: {changed:,} changed (1%)", f"{inc.seconds:.2f} s", f"{100 * inc_share:.1f}% of full",
         f"embed {inc_embed_s:.2f} s, hash read {hash_read_s:.2f} s", verdict(inc_share <= 0.05, "<=5%")),
        (f"recall@10 ({args.queries} queries)", f"{recall:.4f}", "", f"ties counted {recall_ties:.4f}",
         verdict(recall >= 0.95, ">=0.95")),
        ("raw chroma query", f"p50 {qp50:.2f} ms", "", f"p95 {qp95:.2f} ms", ""),
        ("raw chroma query, state=IL", f"p50 {fp50:.2f} ms", f"{fp50 / qp50:.2f}x", f"p95 {fp95:.2f} ms", ""),
        ("raw encode(query)", f"p50 {ep50:.2f} ms", "", f"p95 {ep95:.2f} ms", ""),
        ("raw encode + query", f"p50 {rp50:.2f} ms", "", f"p95 {rp95:.2f} ms", ""),
        ("POST /v1/matrix/search", f"p50 {ap50:.2f} ms", f"{ap50 - rp50:+.2f} ms", f"p95 {ap95:.2f} ms",
         verdict(ap50 - rp50 <= 10, "<= raw + 10 ms")),
        ("  of which server elapsed_ms", f"p50 {sp50:.2f} ms", "", f"p95 {sp95:.2f} ms", ""),
        ("/v1/matrix/search state=IL (cached)", f"p50 {afp50:.2f} ms", "", f"p95 {afp95:.2f} ms", ""),
        ("chroma RSS per 100k vectors", f"{per100k:.0f} MiB", f"{per100k / float_mib:.1f}x float32",
         f"{rss_before:.0f} -> {rss_after:.0f} MiB; restarted {per100k_restart:.0f} MiB/100k",
         f"(float32: {float_mib:.0f} MiB)"),
    ]  # fmt: skip
    widths = [max(len(str(r[i])) for r in rows) for i in range(5)]
    print()
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())

    report.update(
        {
            "embedding": {
                "raw_seconds": raw_s,
                "raw_docs_per_s": raw_rate,
                "raw_cpu_seconds": raw_cpu,
                "sync_seconds": full.seconds,
                "full_index_seconds": full_index_seconds,
                "sync_docs_per_s": ours_rate,
                "sync_embed_seconds": full_embed_s,
                "sync_cpu_seconds": full_cpu,
                "chroma_cpu_seconds": full_chroma_cpu,
                "ratio": ratio,
                "ratio_by_cpu_seconds": raw_cpu / (full_cpu + full_chroma_cpu),
                "load_avg_before": {"raw": load0, "sync": load1},
            },
            "incremental": {
                "changed": changed,
                "embedded": inc.embedded,
                "skipped": inc.skipped,
                "seconds": inc.seconds,
                "embed_seconds": inc_embed_s,
                "hash_read_seconds": hash_read_s,
                "share_of_full": inc_share,
            },
            "recall_at_10": {"mean": recall, "ties_counted": recall_ties, "stored_vs_raw_max_abs_diff": drift},
            "latency_ms": {
                "raw_query": {"p50": qp50, "p95": qp95},
                "raw_query_filtered": {"p50": fp50, "p95": fp95, "filter": FILTER},
                "raw_encode": {"p50": ep50, "p95": ep95},
                "raw_encode_plus_query": {"p50": rp50, "p95": rp95},
                "api_search": {"p50": ap50, "p95": ap95},
                "api_search_server_elapsed": {"p50": sp50, "p95": sp95},
                "api_search_filtered_cached": {"p50": afp50, "p95": afp95},
                "api_minus_raw_p50": ap50 - rp50,
            },
            "memory_mib": {
                "chroma_rss_before": rss_before,
                "chroma_rss_after": rss_after,
                "chroma_rss_restart_empty": rss_restart_empty,
                "chroma_rss_restart_loaded": rss_restart,
                "per_100k_vectors": per100k,
                "per_100k_vectors_restarted": per100k_restart,
                "float32_per_100k": float_mib,
            },
        }
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "retrieval.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
