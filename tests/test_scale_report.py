"""The scale report renders a full result into Markdown + PNG, and survives a minimal result."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from bench.scale_report import format_duration, format_measure, render_markdown, write_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _results() -> dict[str, Any]:
    """A result shaped like the benchmark's, with one stage over target and a profile frame holding `|`."""
    return {
        "rows": 100000,
        "started_at": "2026-11-21T12:00:00Z",
        "total_seconds": 812.4,
        "machine": {
            "cores": 2,
            "cpu": "AMD EPYC 7763",
            "memory_gib": 24,
            "python": "3.11.7",
            "versions": {"duckdb": "2.0.0", "chromadb": "1.5.9", "torch": "2.13.0"},
            "commit": "abc1234 + changes",
        },
        "settings": {"embed_batch_size": 32, "upsert_batch": 512, "hnsw": {"max_neighbors": 32, "ef_search": 100}},
        "stages": [
            {
                "key": "ingest",
                "title": "Ingest",
                "ours_label": "POST /v1/ingest, streamed CSV",
                "raw_label": "DuckDB COPY read_csv -> Parquet, in-process",
                "kind": "throughput",
                "unit": "rows/s",
                "ours": 350000.0,
                "raw": 410000.0,
                "ratio": 1.17,
                "target": 1.25,
                "seconds": 0.29,
                "details": {"p95 ms": 12.3, "peak RSS MiB": 355},
            },
            {
                "key": "embed_index",
                "title": "Embed + index",
                "ours_label": "Dagster asset, batched",
                "raw_label": "SentenceTransformer.encode + collection.add",
                "kind": "throughput",
                "unit": "docs/s",
                "ours": 180.0,
                "raw": 240.0,
                "ratio": 1.33,
                "target": 1.25,
                "seconds": 555.6,
                "explain": "Encoding dominates; the upsert is a small share.",
                "profile": {
                    "tool": "py-spy",
                    "where": "Dagster run worker",
                    "samples": 1234,
                    "top": [
                        {
                            "frame": "encode (sentence_transformers/SentenceTransformer.py:1020)",
                            "self_pct": 12.5,
                            "total_pct": 80.1,
                        },
                        {"frame": "lambda x: a | b (ops.py:7)", "self_pct": 0.4, "total_pct": 1.2},
                    ],
                },
            },
            {
                "key": "search",
                "title": "Search",
                "ours_label": "GET /v1/search",
                "raw_label": "collection.query",
                "kind": "latency",
                "unit": "ms",
                "ours": 23.4,
                "raw": 19.0,
                "ratio": 1.23,
                "target": 1.5,
                "seconds": None,
            },
            {
                "key": "sql_group_by",
                "title": "SQL group by",
                "ours_label": "POST /v1/sql",
                "raw_label": "duckdb.sql",
                "kind": "latency",
                "unit": "ms",
                "ours": 8.25,
                "raw": 7.5,
                "ratio": 1.1,
                "target": None,
            },
        ],
        "checks": [
            {
                "name": "query-to-top-K p50, embedder warm",
                "value": 23.4,
                "unit": "ms",
                "target": "< 50 ms",
                "pass": True,
            }
        ],
        "memory": {
            "vectors": 100000,
            "chroma_rss_before_mib": 110.0,
            "chroma_rss_after_mib": 380.0,
            "per_100k_mib": 270.0,
            "float32_per_100k_mib": 146.5,
            "hnsw_graph_per_100k_mib": 25.2,
            "budget_per_100k_mib": 343.4,
            "pass": True,
            "note": "RSS of the Chroma server process.",
        },
        "timeline": [
            {"stage": "generate CSV", "seconds": 1.2},
            {"stage": "ingest", "seconds": 3.1},
            {"stage": "embed + index (Dagster)", "seconds": 560.0},
            {"stage": "search + SQL", "seconds": 40.0},
        ],
        "notes": ["Two cores shared with the API process."],
    }


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which PNG requires to come first after the signature."""
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_write_report_full(tmp_path: Path) -> None:
    md_path, png_path = write_report(_results(), tmp_path, "scale-test")

    assert md_path == tmp_path / "scale-test.md"
    assert png_path == tmp_path / "scale-test.png"
    assert md_path.is_file()
    assert png_path.is_file()

    data = png_path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    width, height = _png_size(data)
    assert abs(width - 1400) <= 10
    assert abs(height - 500) <= 10

    md = md_path.read_text(encoding="utf-8")
    assert md.startswith("# Scale benchmark: 100,000 workers\n")
    assert "![throughput and latency by stage](scale-test.png)" in md
    assert "350,000 rows/s<br>POST /v1/ingest, streamed CSV" in md
    assert "1.17x" in md
    ingest_row = next(line for line in md.splitlines() if line.startswith("| **Ingest**"))
    assert ingest_row.endswith("| PASS |")
    embed_row = next(line for line in md.splitlines() if line.startswith("| **Embed + index**"))
    assert embed_row.endswith("| MISS |")
    sql_row = next(line for line in md.splitlines() if line.startswith("| **SQL group by**"))
    assert sql_row.endswith("| — |")
    assert r"`lambda x: a \| b (ops.py:7)`" in md
    assert "`hnsw.max_neighbors`" in md
    assert "13 min 32 s" in md
    assert "Profile: py-spy, Dagster run worker, 1,234 samples" in md
    assert "## Where the time goes" in md
    assert "- Two cores shared with the API process." in md
    assert "Code measured: commit abc1234 + changes" in md


def test_minimal_result_renders(tmp_path: Path) -> None:
    minimal: dict[str, Any] = {"rows": 10, "stages": [], "total_seconds": 1.0}
    md = render_markdown(minimal, "x.png")
    assert md.startswith("# Scale benchmark: 10 workers")
    assert "![throughput and latency by stage](x.png)" in md

    md_path, png_path = write_report(minimal, tmp_path / "out", "minimal")
    assert md_path.is_file()
    assert png_path.read_bytes().startswith(PNG_SIGNATURE)


def test_number_formatting() -> None:
    assert format_measure(350000.0, "rows/s") == "350,000 rows/s"
    assert format_measure(42.34, "docs/s") == "42.3 docs/s"
    assert format_measure(23.44, "ms") == "23.4 ms"
    assert format_measure(7.5, "ms") == "7.50 ms"
    assert format_measure(None, "ms") == "—"
    assert format_duration(723.4) == "12 min 3 s"
