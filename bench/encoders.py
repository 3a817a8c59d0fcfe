"""The embedder's tiers side by side: throughput and labeled-evaluation precision, same run, same documents.

    python -m bench.encoders [--rows 6000] [--docs 4000]        (make bench-encoders)

Tiers: torch fp32 MiniLM (`local`), its ONNX Runtime int8 export (`onnx`, the default) and the model2vec
static model distilled from the same weights (`static`, the instant tier). For each: docs/s encoding the
first `--docs` distinct worker documents of the sample roster (batches of 512, as the corpus sync sends
them; one warm-up batch first), and the labeled query set of core/retrieval/evaluation.py through the API over a
lake of `--rows` workers indexed with that tier alone: precision@10 per family, hybrid and dense-only.

Writes bench/results/encoders.json and bench/results/encoders.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.nlq import build_lake, measure, say

RESULTS = Path(__file__).resolve().parent / "results"
TIERS = {"local": "torch fp32", "onnx": "ONNX int8 (default)", "static": "model2vec static (instant tier)"}
FAMILIES = ["role+certification", "location", "shift", "language", "experience", "rate", "availability",
            "negation", "constrained", "paraphrase", "absent role"]  # fmt: skip


def throughput(backend: str, texts: list[str]) -> dict[str, Any]:
    from lakehouse_assets.core.settings import LakehouseSettings
    from lakehouse_assets.core.vectors.embedder import embedder_from_settings

    embedder = embedder_from_settings(LakehouseSettings(_env_file=None, embedder_backend=backend)).inner
    embedder.embed(texts[:512])  # load, and any first-use build (the int8 export, the distillation)
    start = time.perf_counter()
    for at in range(0, len(texts), 512):
        embedder.embed(texts[at : at + 512])
    seconds = time.perf_counter() - start
    return {"model": embedder.model, "docs": len(texts), "seconds": seconds, "docs_per_s": len(texts) / seconds}


def sample_texts(n: int) -> list[str]:
    import duckdb

    from lakehouse_assets.core.retrieval.corpora import WORKERS
    from lakehouse_assets.core.sample.generate import generate_workers

    conn = duckdb.connect()
    conn.register("workers", generate_workers(max(n * 2, 5000), seed=7))
    texts = list(dict.fromkeys(conn.sql(WORKERS.sql).to_arrow_table().column("text").to_pylist()))
    return texts[:n]


def markdown(results: dict[str, Any]) -> str:
    base = results["tiers"]["local"]["throughput"]["docs_per_s"]
    lines = [
        "# Embedding tiers: throughput and precision, same run", "",
        f"{results['docs']:,} distinct worker documents encoded per tier; labeled queries over {results['rows']:,} "
        "workers indexed with that tier alone (precision@10).", "",
        "| tier | model | docs/s | vs torch fp32 | hybrid p@10, family mean | dense-only p@10, family mean |",
        "|---|---|---:|---:|---:|---:|",
    ]  # fmt: skip
    for backend, r in results["tiers"].items():
        t, fam = r["throughput"], r["eval"]["families"]
        mean = {m: sum(fam[m][f] for f in FAMILIES if f in fam[m]) / len(FAMILIES) for m in ("hybrid", "dense")}
        lines.append(f"| {TIERS[backend]} | `{t['model']}` | {t['docs_per_s']:,.0f} | {t['docs_per_s'] / base:.2f}x "
                     f"| {mean['hybrid']:.3f} | {mean['dense']:.3f} |")  # fmt: skip
    header = " | ".join(TIERS[b] for b in results["tiers"])
    lines += ["", "Per family (hybrid / dense-only):", "", f"| family | {header} |",
              "|---|" + "---:|" * len(results["tiers"])]  # fmt: skip
    for f in FAMILIES:
        cells = []
        for r in results["tiers"].values():
            fam = r["eval"]["families"]
            cells.append(f"{fam['hybrid'].get(f, float('nan')):.2f} / {fam['dense'].get(f, float('nan')):.2f}")
        lines.append(f"| {f} | " + " | ".join(cells) + " |")
    lines += ["", *default_verdict(results)]
    return "\n".join(lines) + "\n"


def default_verdict(results: dict[str, Any], tolerance: float = 0.01) -> list[str]:
    """Why `onnx` is the default: within `tolerance` of torch fp32's p@10 in every family for hybrid search (what
    the API answers with), and no more than `tolerance` below it over the families for dense-only."""
    tiers = results["tiers"]
    if "onnx" not in tiers:
        return []
    int8, fp32 = tiers["onnx"]["eval"]["families"], tiers["local"]["eval"]["families"]
    gap = max(abs(int8["hybrid"][f] - fp32["hybrid"][f]) for f in fp32["hybrid"])
    mean = {
        name: sum(v for f, v in fam["dense"].items() if f != "constrained") / (len(fam["dense"]) - 1)
        for name, fam in (("int8", int8), ("fp32", fp32))
    }
    hybrid_ok, dense_ok = gap <= tolerance, mean["int8"] >= mean["fp32"] - tolerance
    return [
        f"The default (int8) against torch fp32: hybrid p@10 within {tolerance} in every family: "
        f"{'yes' if hybrid_ok else 'NO'} (largest gap {gap:.3f}); dense-only family mean {mean['int8']:.3f} vs "
        f"{mean['fp32']:.3f}: {'yes' if dense_ok else 'NO'}.",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.encoders", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--rows", type=int, default=6000, help="workers in each tier's evaluation lake")
    parser.add_argument("--docs", type=int, default=4000, help="distinct documents encoded for throughput")
    parser.add_argument("--tiers", nargs="+", default=list(TIERS), choices=list(TIERS))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if "local" not in args.tiers:
        parser.error("the tiers are compared with torch fp32: keep 'local' in --tiers")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ["LAKEHOUSE_SEARCH_INSTANT_TIER"] = "false"  # each tier's index answers alone
    texts = sample_texts(args.docs)
    results: dict[str, Any] = {"rows": args.rows, "docs": len(texts), "tiers": {}}
    for backend in args.tiers:
        os.environ["LAKEHOUSE_EMBEDDER_BACKEND"] = backend
        say(f"{backend}: encoding {len(texts):,} documents")
        speed = throughput(backend, texts)
        say(f"{backend}: {speed['docs_per_s']:,.0f} docs/s; indexing {args.rows:,} workers for the evaluation")
        work = Path(tempfile.mkdtemp(prefix=f"bench-encoders-{backend}-"))
        try:
            build_lake(work / "home", args.rows)
            results["tiers"][backend] = {"throughput": speed, "eval": measure(work / "home", passes=1)}
        finally:
            shutil.rmtree(work, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "encoders.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    text = markdown(results)
    (args.out / "encoders.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
