"""Playbook records: which workers were endorsed (or rejected) for a staffing query, and how it went.

Records are appended to a JSONL log (one writer, the API process; each append is fsync'd before it
returns). The `playbook_memory` asset rebuilds a catalog dataset from the log, and the `playbooks`
corpus embeds each record's query, so a later, similar query finds the past outcome and search
can boost the workers endorsed for it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa

from lakehouse_assets.core.errors import LakehouseError
from lakehouse_assets.core.memory.journal import JournalCursor, JournalLine, JsonlJournal, utc_now

log = logging.getLogger(__name__)

OUTCOMES = ("success", "partial", "failure")


class InvalidPlaybook(LakehouseError, ValueError):
    status = 400
    code = "invalid_playbook"


@dataclass(frozen=True)
class PlaybookRecord:
    query: str
    endorsed_ids: tuple[str, ...]
    rejected_ids: tuple[str, ...] = ()
    outcome: str = "success"
    contract_id: str | None = None
    recorded_at: str = field(default_factory=utc_now)

    def __post_init__(self) -> None:
        if not isinstance(self.query, str) or not self.query.strip():
            raise InvalidPlaybook("query is empty: a playbook records what was asked")
        if self.outcome not in OUTCOMES:
            raise InvalidPlaybook(f"outcome {self.outcome!r} is not one of {', '.join(OUTCOMES)}")
        if not self.endorsed_ids and not self.rejected_ids:
            raise InvalidPlaybook("a playbook needs at least one endorsed or rejected worker id")
        both = set(self.endorsed_ids) & set(self.rejected_ids)
        if both:
            raise InvalidPlaybook(f"ids both endorsed and rejected: {', '.join(sorted(both))}")
        for i in (*self.endorsed_ids, *self.rejected_ids):
            if not isinstance(i, str) or not i.strip() or ";" in i:
                raise InvalidPlaybook(f"invalid worker id {i!r}")

    @property
    def playbook_id(self) -> str:
        """Content-derived: the same record logged twice is one playbook."""
        body = json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(body.encode("utf-8")).hexdigest()[:20]

    def to_json(self) -> dict:
        return {"playbook_id": self.playbook_id, **asdict(self)}

    @classmethod
    def from_json(cls, d: dict) -> PlaybookRecord:
        return cls(
            query=d["query"],
            endorsed_ids=tuple(str(i) for i in d.get("endorsed_ids", ())),
            rejected_ids=tuple(str(i) for i in d.get("rejected_ids", ())),
            outcome=d.get("outcome", "success"),
            contract_id=d.get("contract_id"),
            recorded_at=d["recorded_at"],
        )


@dataclass(frozen=True)
class LogReplay:
    records: list[PlaybookRecord]
    skipped_lines: int


class PlaybookLog:
    """Append-only JSONL of playbook records (a JsonlJournal of PlaybookRecord)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._journal = JsonlJournal(path)

    def append(self, records: Sequence[PlaybookRecord]) -> None:
        """Write and fsync every record before returning; a crash leaves at most one torn last line."""
        self._journal.append([r.to_json() for r in records])

    def locked(self) -> contextlib.AbstractContextManager[None]:
        """The log held against every other writer (appends inside take it again freely)."""
        return self._journal.locked()

    def replay(self) -> LogReplay:
        """Every readable record in order; corrupt or truncated lines are skipped and counted."""
        journal = self._journal.replay()
        records = self._records(journal.lines)
        return LogReplay(records, journal.skipped_lines + len(journal.lines) - len(records))

    def tail(self, cursor: JournalCursor) -> tuple[list[PlaybookRecord], JournalCursor]:
        """The readable records appended after `cursor` (by any process), and the cursor after them."""
        lines, cursor = self._journal.tail(cursor)
        return self._records([line for line in lines if line.record is not None]), cursor

    def _records(self, lines: Sequence[JournalLine]) -> list[PlaybookRecord]:
        records: list[PlaybookRecord] = []
        for line in lines:
            try:
                records.append(PlaybookRecord.from_json(line.record or {}))
            except (ValueError, KeyError, TypeError) as e:
                log.warning("%s line %d skipped: %s", self.path, line.lineno, e)
        return records


PLAYBOOK_SCHEMA = pa.schema(
    [
        ("playbook_id", pa.string()),
        ("query", pa.string()),
        ("endorsed_ids", pa.string()),
        ("rejected_ids", pa.string()),
        ("outcome", pa.string()),
        ("contract_id", pa.string()),
        ("recorded_at", pa.string()),
    ]
)


def playbook_table(records: Iterable[PlaybookRecord]) -> pa.Table:
    """One row per distinct playbook (ids joined with ';'), the shape of the `playbook_memory` dataset."""
    seen: dict[str, PlaybookRecord] = {}
    for r in records:
        seen.setdefault(r.playbook_id, r)
    return pa.Table.from_pylist([playbook_row(r) for r in seen.values()], schema=PLAYBOOK_SCHEMA)


def playbook_row(record: PlaybookRecord) -> dict[str, str | None]:
    """The record as a `playbook_memory` row."""
    return {
        "playbook_id": record.playbook_id,
        "query": record.query,
        "endorsed_ids": ";".join(record.endorsed_ids),
        "rejected_ids": ";".join(record.rejected_ids),
        "outcome": record.outcome,
        "contract_id": record.contract_id,
        "recorded_at": record.recorded_at,
    }


def split_ids(joined: str | None) -> list[str]:
    return [i for i in (joined or "").split(";") if i]
