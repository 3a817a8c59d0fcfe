"""The `iterate_sessions` dataset: one row per iterate session, built a day at a time from the daily
session journal, so "first-shot success rate per model" is one SQL query:

    SELECT model, avg(first_shot_accepted::INT) FROM iterate_sessions GROUP BY model

Rebuilding a day replaces that day's rows and keeps the others; the same journal gives the same
Parquet bytes, so re-materializing a day registers no new version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import duckdb
import pyarrow as pa

from lakehouse_assets.core.lake.derived import replace_day
from lakehouse_assets.core.lake.handle import Lake
from lakehouse_assets.core.lake.register import IngestResult
from lakehouse_assets.core.llm.iterate import SCHEMA
from lakehouse_assets.core.memory.journal import JsonlJournal

DATASET = "iterate_sessions"

SESSIONS_SCHEMA = pa.schema(
    [
        ("day", pa.string()),
        ("session_id", pa.string()),
        ("started_at", pa.string()),
        ("finished_at", pa.string()),
        ("kind", pa.string()),
        ("model", pa.string()),
        ("answered_by", pa.string()),
        ("provider", pa.string()),
        ("accepted", pa.bool_()),
        ("verdict", pa.string()),
        ("attempt_count", pa.int32()),
        ("first_shot_accepted", pa.bool_()),
        ("prompt_tokens", pa.int64()),
        ("completion_tokens", pa.int64()),
        ("total_tokens", pa.int64()),
        ("latency_ms", pa.float64()),
        ("grounded_in_roster", pa.bool_()),
        ("error", pa.string()),
        ("attempts_json", pa.string()),
        ("journal_line", pa.int64()),
    ]
)


@dataclass(frozen=True)
class DayOfSessions:
    table: pa.Table
    skipped_lines: int


def _row(day: str, lineno: int, r: dict) -> dict:
    attempts = r.get("attempts") or []
    return {
        "day": day,
        "session_id": str(r["session_id"]),
        "started_at": r.get("started_at"),
        "finished_at": r.get("finished_at"),
        "kind": r.get("kind"),
        "model": r.get("model"),
        "answered_by": r.get("answered_by"),
        "provider": r.get("provider"),
        "accepted": bool(r.get("accepted")),
        "verdict": r.get("verdict"),
        "attempt_count": len(attempts),
        "first_shot_accepted": bool(r.get("accepted")) and len(attempts) == 1,
        "prompt_tokens": int(r.get("prompt_tokens") or 0),
        "completion_tokens": int(r.get("completion_tokens") or 0),
        "total_tokens": int(r.get("total_tokens") or 0),
        "latency_ms": float(r.get("latency_ms") or 0.0),
        "grounded_in_roster": r.get("grounded_in_roster"),
        "error": r.get("error"),
        "attempts_json": json.dumps(attempts, sort_keys=True, ensure_ascii=False),
        "journal_line": lineno,
    }


def read_day(journal: JsonlJournal, day: str) -> DayOfSessions:
    """That day's session records as rows; unreadable lines and foreign records are skipped and counted."""
    date.fromisoformat(day)
    rows, skipped = [], 0
    for line in journal:
        r = line.record
        if r is None or r.get("schema") != SCHEMA or not r.get("session_id"):
            skipped += 1
            continue
        try:
            rows.append(_row(day, line.lineno, r))
        except (TypeError, ValueError):
            skipped += 1
    return DayOfSessions(pa.Table.from_pylist(rows, schema=SESSIONS_SCHEMA), skipped)


def write_day(
    conn: duckdb.DuckDBPyConnection,
    day: str,
    table: pa.Table,
    *,
    lake: Lake,
) -> IngestResult:
    """Replace `day`'s rows of the dataset with `table` (creating the dataset on first use)."""
    return replace_day(
        conn,
        DATASET,
        day,
        table,
        order_by=("started_at", "session_id", "journal_line"),
        lake=lake,
    )


def ungrounded_accepted_fills(conn: duckdb.DuckDBPyConnection, day: str, *, lake: Lake) -> list[str]:
    """Session ids of `day`'s accepted fills that are not grounded in the roster, read from the stored
    dataset. Must always be empty: an accepted fill passed the roster check."""
    date.fromisoformat(day)
    lake.mount_live(conn, DATASET)
    rows = conn.execute(
        f"SELECT session_id FROM {DATASET} WHERE day = ? AND kind = 'fill' AND accepted "
        "AND grounded_in_roster IS NOT TRUE ORDER BY session_id",
        [day],
    ).fetchall()
    return [r[0] for r in rows]
