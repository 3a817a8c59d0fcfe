"""The observer: a witness of every operation (API calls, MCP tool calls, scenario runs, overseer
corrections), kept in a bounded ring in memory and in a daily JSONL journal on disk.

The ring holds the latest `ring_size` ops: a new op evicts the oldest, a write is never refused. The
last 10 scenario ops are kept apart. Ops posted explicitly are journaled (fsync'd) before they enter
the ring; ops recorded by the API middleware go through a background writer that journals them in
batches, so a request never waits for a disk flush. On start the ring is refilled from the newest
journal days (unreadable lines skipped and counted). The ring follows the journal rather than this process's
ops alone: it takes in each op by reading the day's journal on from where it last read (its own writes, and
those of the API's other worker processes sharing the journal), before every read of it and after every write.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from lakehouse_assets.core.errors import LakehouseError
from lakehouse_assets.core.memory.journal import DailyJournal, JournalCursor, JournalLine, utc_now

log = logging.getLogger(__name__)

SOURCES = ("mcp", "scenario", "api", "overseer_correction")
SCENARIO_KEPT = 10
QUEUE_LIMIT = 10_000
BATCH_LINGER_SECONDS = 0.05


class InvalidOp(LakehouseError, ValueError):
    status = 400
    code = "invalid_op"


# Every op is held in the ring and written to the journal: its text fields are bounded, so 2,000 ops cannot
# hold 2,000 request bodies' worth of memory.
MAX_LENGTHS = {"endpoint": 200, "error": 2000, "method": 16, "timestamp": 64}


@dataclass(frozen=True)
class Op:
    endpoint: str
    source: str
    ok: bool
    latency_ms: float | None = None
    error: str | None = None
    timestamp: str = field(default_factory=utc_now)
    method: str | None = None
    status: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.endpoint, str) or not self.endpoint.strip():
            raise InvalidOp("endpoint is required")
        for name, limit in MAX_LENGTHS.items():
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or len(value) > limit):
                raise InvalidOp(f"{name} must be text of at most {limit} characters")
        if self.source not in SOURCES:
            raise InvalidOp(f"source {self.source!r} is not one of {', '.join(SOURCES)}")
        if not isinstance(self.ok, bool):
            raise InvalidOp("ok is required: true or false")
        if self.latency_ms is not None and (not isinstance(self.latency_ms, int | float) or self.latency_ms < 0):
            raise InvalidOp("latency_ms must be a non-negative number")
        try:
            datetime.fromisoformat(self.timestamp.replace("Z", "+00:00"))
        except (AttributeError, ValueError) as e:
            raise InvalidOp(f"timestamp {self.timestamp!r} is not ISO-8601") from e

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Op:
        missing = [f for f in ("endpoint", "source", "ok") if d.get(f) is None]
        if missing:
            raise InvalidOp(f"missing required field(s): {', '.join(missing)}")
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d and d[k] is not None}
        return cls(**known)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class EndpointStats:
    count: int
    errors: int
    error_rate: float
    p50_ms: float | None
    p99_ms: float | None


class Observer:
    def __init__(self, journal: DailyJournal, *, ring_size: int = 2000, sample_rate: float = 1.0) -> None:
        if ring_size < 1:
            raise ValueError("ring_size must be at least 1")
        self.journal, self.sample_rate = journal, sample_rate
        self._lock = threading.Lock()
        self._ring: deque[Op] = deque(maxlen=ring_size)
        self._scenario: deque[Op] = deque(maxlen=SCENARIO_KEPT)
        self._by_source: Counter[str] = Counter()
        self.recorded = self.evicted = self.dropped = self.skipped_lines = self.replayed = 0
        self._pending: deque[Op | Callable[[], Op | None]] = deque()
        self._drain_lock = threading.Lock()
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None
        self._follow_lock = threading.Lock()
        self._day, self._cursor = _today(), JournalCursor()  # the journal day the ring has read up to, and where
        self._replay()

    # -- persistence ---------------------------------------------------------------------------

    def _replay(self) -> None:
        """Refill the ring from the newest days of the journal."""
        wanted = self._ring.maxlen or 0
        days: list[list[Op]] = []
        total = 0
        for day in reversed(self.journal.days()):
            lines, cursor = self.journal.day(day).tail(settled=True)
            if day >= self._day:
                self._day, self._cursor = day, cursor
            ops = self._ops(lines)
            days.append(ops)
            total += len(ops)
            if total >= wanted:
                break
        for ops in reversed(days):
            for op in ops:
                self._apply(op)
        self.replayed, self.recorded, self.evicted = self.recorded, 0, 0

    def _ops(self, lines: list[JournalLine]) -> list[Op]:
        ops = []
        for line in lines:
            try:
                if line.record is None:
                    raise InvalidOp("not a JSON object")
                ops.append(Op.from_json(line.record))
            except (InvalidOp, TypeError):
                self.skipped_lines += 1
        return ops

    def _catch_up(self) -> None:
        """Take in the ops journaled since the ring last read (by any process), in the journal's order."""
        with self._follow_lock:
            today = _today()
            while True:
                lines, self._cursor = self.journal.day(self._day).tail(self._cursor)
                for op in self._ops(lines):
                    self._apply(op)
                if self._day >= today:
                    return
                self._day, self._cursor = today, JournalCursor()  # the old day is read to its end: on to today's

    def _apply(self, op: Op) -> None:
        with self._lock:
            if len(self._ring) == self._ring.maxlen:
                self.evicted += 1
            self._ring.append(op)
            if op.source == "scenario":
                self._scenario.append(op)
            self._by_source[op.source] += 1
            self.recorded += 1

    # -- recording -----------------------------------------------------------------------------

    def record(self, op: Op) -> Op:
        """Journal the op (fsync'd), then keep it in the ring."""
        self.journal.append([op.to_json()])
        self._catch_up()
        return op

    def sampled(self) -> bool:
        return self.sample_rate >= 1.0 or random.random() < self.sample_rate

    def record_async(self, op: Op | Callable[[], Op | None]) -> None:
        """Hand an op (or a function that builds it, so even building it happens off the request path)
        to the background writer (a function may decide there is nothing to record: None). Dropped, and
        counted, only if the writer is QUEUE_LIMIT ops behind.

        A plain deque the writer drains every BATCH_LINGER_SECONDS, not a queue.Queue: waking the writer for
        each op cost the API a twentieth of its time under load (a condition variable notify per request)."""
        if self._writer is None:
            self._start_writer()
        if len(self._pending) >= QUEUE_LIMIT:
            self.dropped += 1
            return
        self._pending.append(op)

    def _start_writer(self) -> None:
        with self._lock:
            if self._writer is None:
                self._stop.clear()
                self._writer = threading.Thread(target=self._write_loop, name="observer-writer", daemon=True)
                self._writer.start()

    def _write_loop(self) -> None:
        while True:
            stopping = self._stop.wait(BATCH_LINGER_SECONDS)  # one fsync for a burst, not one per op
            self._drain()
            if stopping:
                return

    def _drain(self) -> None:
        """Journal every op queued so far, in batches of at most 500, and take them into the ring."""
        with self._drain_lock:
            while self._pending:
                ops = []
                while self._pending and len(ops) < 500:
                    item = self._pending.popleft()
                    try:
                        op = item if isinstance(item, Op) else item()
                        if op is not None:
                            ops.append(op)
                    except (InvalidOp, TypeError, ValueError):
                        log.exception("an op could not be built; skipped")
                        self.dropped += 1
                if not ops:
                    continue
                try:
                    self.journal.append([op.to_json() for op in ops])
                    self._catch_up()
                except OSError:
                    log.exception("the observer journal could not be written; %d ops lost", len(ops))
                    self.dropped += len(ops)

    def flush(self) -> None:
        """Journal every queued op and take it into the ring, now."""
        self._drain()

    def close(self) -> None:
        if self._writer is not None:
            self._stop.set()
            self._writer.join(timeout=10)
            self._writer = None
        self._drain()

    # -- reading -------------------------------------------------------------------------------

    def recent(self, n: int = 50) -> list[dict[str, Any]]:
        self._catch_up()
        with self._lock:
            return [op.to_json() for op in list(self._ring)[-n:]]

    def stats(self) -> dict[str, Any]:
        self._catch_up()
        with self._lock:
            ring = list(self._ring)
            scenario = [op.to_json() for op in self._scenario]
            by_source = dict(self._by_source)
        by_endpoint: dict[str, list[Op]] = {}
        for op in ring:
            by_endpoint.setdefault(op.endpoint, []).append(op)
        endpoints = {}
        for endpoint, ops in sorted(by_endpoint.items()):
            latencies = np.array([op.latency_ms for op in ops if op.latency_ms is not None], dtype=float)
            errors = sum(not op.ok for op in ops)
            endpoints[endpoint] = asdict(
                EndpointStats(
                    count=len(ops),
                    errors=errors,
                    error_rate=round(errors / len(ops), 4),
                    p50_ms=round(float(np.percentile(latencies, 50)), 3) if latencies.size else None,
                    p99_ms=round(float(np.percentile(latencies, 99)), 3) if latencies.size else None,
                )
            )
        return {
            "in_buffer": len(ring),
            "capacity": self._ring.maxlen,
            "recorded": self.recorded,
            "replayed": self.replayed,
            "evicted": self.evicted,
            "dropped": self.dropped,
            "skipped_lines": self.skipped_lines,
            "sample_rate": self.sample_rate,
            "by_source": by_source,
            "by_endpoint": endpoints,
            "recent_scenario": scenario,
        }


def _today() -> str:
    return datetime.now(UTC).date().isoformat()
