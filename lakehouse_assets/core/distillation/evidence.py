"""Evidence: one schema over everything the platform witnessed in a day.

The day's journals (observer ops, iterate sessions, playbook records, replay runs) become rows of
(source, task, input, output, verdict, tokens, model, ...) with their provenance: the journal file
(relative to the lake home), the 0-based line number and the byte offset where the line starts, so
every row leads back to the exact line it came from (the first line is line 0). Rows are ordered by
provenance, so the same journals always give the same rows, and the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa

from lakehouse_assets.core.memory.journal import JsonlJournal
from lakehouse_assets.core.settings import LakehouseSettings

SOURCES = ("observer", "iterate", "playbook", "replay")
REPLAY_SCHEMA = "replay.run.v1"

EVIDENCE_FIELDS = [
    ("evidence_id", pa.string()),
    ("day", pa.string()),
    ("source", pa.string()),
    ("task", pa.string()),
    ("input", pa.string()),
    ("output", pa.string()),
    ("verdict", pa.string()),
    ("ok", pa.bool_()),
    ("tokens", pa.int64()),
    ("model", pa.string()),
    ("latency_ms", pa.float64()),
    ("retries", pa.int32()),
    ("grounded", pa.bool_()),
    ("provenance_file", pa.string()),
    ("provenance_line", pa.int64()),
    ("provenance_offset", pa.int64()),
]
EVIDENCE_SCHEMA = pa.schema(EVIDENCE_FIELDS)
ORDER = ("source", "provenance_file", "provenance_line")
OK_VERDICTS = frozenset({"ok", "accepted", "success"})


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _evidence_id(file: str, line: int) -> str:
    return hashlib.sha256(f"{file}\x1f{line}".encode()).hexdigest()[:24]


@dataclass
class DayReceipt:
    counts: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    output_hash: str = ""


Row = dict[str, Any]
Converter = Callable[[dict[str, Any]], Row | None]


def _observer(r: dict[str, Any]) -> Row:
    ok = bool(r["ok"])
    return {
        "task": r["endpoint"],
        "input": _json({"endpoint": r["endpoint"], "method": r.get("method"), "source": r.get("source")}),
        "output": _json({"status": r.get("status"), "error": r.get("error")}),
        "verdict": "ok" if ok else "error",
        "tokens": 0,
        "model": None,
        "latency_ms": r.get("latency_ms"),
        "retries": 0,
        "grounded": None,
    }


def _iterate(r: dict[str, Any]) -> Row | None:
    if r.get("schema") != "session.iterate.v1":
        return None
    attempts = r.get("attempts") or []
    first_prompt = attempts[0].get("prompt") if attempts else None
    last = attempts[-1] if attempts else {}
    return {
        "task": f"iterate:{r['kind']}",
        "input": _json({"kind": r["kind"], "prompt": first_prompt, "session_id": r["session_id"]}),
        "output": _json({"value": r.get("value"), "raw": last.get("raw"), "error": last.get("error")}),
        "verdict": r["verdict"],
        "tokens": int(r.get("total_tokens") or 0),
        "model": r.get("answered_by"),
        "latency_ms": r.get("latency_ms"),
        "retries": max(0, len(attempts) - 1),
        "grounded": r.get("grounded_in_roster"),
    }


def _playbook(r: dict[str, Any]) -> Row:
    return {
        "task": "playbook",
        "input": _json({"query": r["query"], "contract_id": r.get("contract_id")}),
        "output": _json({"endorsed_ids": r.get("endorsed_ids", []), "rejected_ids": r.get("rejected_ids", [])}),
        "verdict": r.get("outcome", "success"),
        "tokens": 0,
        "model": None,
        "latency_ms": None,
        "retries": 0,
        "grounded": None,
    }


def _replay(r: dict[str, Any]) -> Row | None:
    if r.get("schema") != REPLAY_SCHEMA:
        return None
    return {
        "task": f"replay:{r['kind']}",
        "input": _json({"kind": r["kind"], "prompt": r["prompt"], "task_id": r.get("task_id")}),
        "output": _json({"value": r.get("extracted"), "raw": r.get("raw"), "error": r.get("error")}),
        "verdict": r["verdict"],
        "tokens": int(r.get("tokens") or 0),
        "model": r.get("model"),
        "latency_ms": r.get("latency_ms"),
        "retries": 0,
        "grounded": r.get("grounded"),
    }


@dataclass(frozen=True)
class EvidenceSource:
    name: str
    path: Path
    convert: Converter
    day_filter: Callable[[dict[str, Any], str], bool] | None = None  # for journals not split by day


def day_sources(settings: LakehouseSettings, day: str) -> list[EvidenceSource]:
    """The journals that hold `day`'s activity."""
    date.fromisoformat(day)
    return [
        EvidenceSource("observer", settings.observer_log_dir / f"{day}.jsonl", _observer),
        EvidenceSource("iterate", settings.session_log_dir / f"{day}.jsonl", _iterate),
        EvidenceSource(
            "playbook",
            settings.playbook_log_path,
            _playbook,
            day_filter=lambda r, d: str(r.get("recorded_at", ""))[:10] == d,
        ),
        EvidenceSource("replay", settings.replay_log_dir / f"{day}.jsonl", _replay),
    ]


def build_evidence(settings: LakehouseSettings, day: str) -> tuple[pa.Table, DayReceipt]:
    """The day's evidence rows, ordered by provenance, and a receipt (counts, skipped lines, hash)."""
    receipt = DayReceipt()
    rows: list[Row] = []
    for source in day_sources(settings, day):
        try:
            relative = str(source.path.relative_to(settings.home))
        except ValueError:
            relative = str(source.path)
        for line in JsonlJournal(source.path):
            r = line.record
            if r is not None and source.day_filter is not None and not source.day_filter(r, day):
                continue
            try:
                row = source.convert(r) if r is not None else None
            except (KeyError, TypeError, ValueError):
                row = None
            if row is None:
                receipt.skipped[source.name] += 1
                continue
            line0 = line.lineno - 1
            rows.append(
                {
                    "evidence_id": _evidence_id(relative, line0),
                    "day": day,
                    "source": source.name,
                    **row,
                    "ok": row["verdict"] in OK_VERDICTS,
                    "provenance_file": relative,
                    "provenance_line": line0,
                    "provenance_offset": line.offset,
                }
            )
            receipt.counts[source.name] += 1
    rows.sort(key=lambda r: tuple(r[k] for k in ORDER))
    receipt.output_hash = rows_hash(rows)
    return pa.Table.from_pylist(rows, schema=EVIDENCE_SCHEMA), receipt


def rows_hash(rows: list[Row]) -> str:
    """SHA-256 over the rows as canonical JSON lines: the same day gives the same hash."""
    digest = hashlib.sha256()
    for r in rows:
        digest.update((_json(r) + "\n").encode("utf-8"))
    return digest.hexdigest()
