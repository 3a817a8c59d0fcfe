"""Pathway memory: versioned traces of what worked (opaque JSON content plus tags), kept in an
append-only JSONL journal.

Every operation is one journal event, written and fsync'd *before* the in-memory state changes, and
the state is rebuilt by replaying the journal on start (unreadable lines skipped and counted). The state
follows the journal: every operation first applies what other processes appended since (the API's worker
processes share one journal), and a write holds the journal's lock from that catch-up to its own event, so
it is checked against the latest state (two workers cannot both retire, or update from, one version). Traces
are handed out as deep copies, so a caller can never mutate what is stored.

- add: a new trace (uid, timestamps). add with `idempotent=True`: the same content (canonical JSON)
  returns the existing live trace and increments its replay count instead of storing it twice.
- update: same uid, new content (version + 1). revise: a new uid whose `predecessor` is the old one.
- retire: excluded from search, still readable by get and history.
- history: walks predecessors; a cycle or a missing predecessor ends the walk with a marker.
- search: by tags and top-level content fields, and by text similarity through the embedder.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lakehouse_assets.core.errors import LakehouseError
from lakehouse_assets.core.memory.journal import JournalCursor, JsonlJournal, utc_now
from lakehouse_assets.core.vectors.embedder import unit_rows

Embed = Callable[[list[str]], np.ndarray]
MAX_CONTENT_BYTES = 1 << 20


class PathwayError(LakehouseError, ValueError):
    status = 400
    code = "invalid_trace"


class TraceNotFound(LakehouseError, KeyError):
    status = 404
    code = "not_found"

    def __str__(self) -> str:
        return f"trace {self.args[0]!r} not found"


class TraceRetired(PathwayError):
    status = 409
    code = "trace_retired"


def content_hash(content: Any) -> str:
    body = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _check_tags(tags: Sequence[str] | None) -> list[str]:
    if tags is None:
        return []
    if isinstance(tags, str) or not all(isinstance(t, str) and t.strip() for t in tags):
        raise PathwayError("tags must be a list of non-empty strings")
    return sorted(set(tags))


def _check_content(content: Any) -> Any:
    if content is None:
        raise PathwayError("content is required")
    try:
        size = len(json.dumps(content, ensure_ascii=False).encode("utf-8"))
    except (TypeError, ValueError) as e:
        raise PathwayError(f"content is not JSON: {e}") from e
    if size > MAX_CONTENT_BYTES:
        raise PathwayError(f"content is {size} bytes; the limit is {MAX_CONTENT_BYTES}")
    return copy.deepcopy(content)


def searchable_text(content: Any) -> str:
    """What text search embeds: a `text` field if the content has one, else its JSON."""
    if isinstance(content, Mapping) and isinstance(content.get("text"), str):
        return content["text"]
    if isinstance(content, str):
        return content
    return json.dumps(content, sort_keys=True, ensure_ascii=False)


@dataclass
class Trace:
    uid: str
    content: Any
    tags: list[str]
    content_hash: str
    created_at: str
    updated_at: str
    version: int = 1
    predecessor: str | None = None
    successor: str | None = None
    retired: bool = False
    retired_at: str | None = None
    replay_count: int = 0

    def to_json(self) -> dict[str, Any]:
        return copy.deepcopy(self.__dict__)


@dataclass(frozen=True)
class History:
    traces: list[dict[str, Any]]
    end: str  # origin | cycle | missing
    at: str | None = None  # the uid where a cycle closed or the missing predecessor


@dataclass(frozen=True)
class Hit:
    trace: dict[str, Any]
    score: float | None


@dataclass
class PathwayStats:
    traces: int = 0
    live: int = 0
    retired: int = 0
    replays: int = 0
    journal_events: int = 0
    skipped_lines: int = 0
    ops: dict[str, int] = field(default_factory=dict)


class PathwayMemory:
    def __init__(self, path: Path, embed: Embed | None = None) -> None:
        self._journal = JsonlJournal(path)
        self._embed = embed
        self._lock = threading.RLock()
        self._traces: dict[str, Trace] = {}
        self._by_hash: dict[str, str] = {}
        self._vectors: dict[str, tuple[str, np.ndarray]] = {}  # uid -> (content hash, unit vector)
        self.stats = PathwayStats()
        self._cursor = JournalCursor()
        with self._lock:
            self._catch_up(settled=True)

    # -- persistence ---------------------------------------------------------------------------

    def _catch_up(self, *, settled: bool = False) -> None:
        """Apply the journal's events not applied yet (all of it on start, when a torn last line is skipped;
        then what any process appended)."""
        lines, self._cursor = self._journal.tail(self._cursor, settled=settled)
        for line in lines:
            try:
                if line.record is None:
                    raise ValueError("not a JSON object")
                self._apply(line.record)
            except (KeyError, TypeError, ValueError):
                self.stats.skipped_lines += 1

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        with self._lock:
            self._catch_up()
            yield

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """The journal locked against every other writer, and the state caught up with it."""
        with self._lock, self._journal.locked():
            self._catch_up()
            yield

    def _commit(self, event: dict[str, Any]) -> None:
        """Write-ahead: journal the event (fsync'd), then apply it (read back: nothing can come between, the
        journal is locked)."""
        self._journal.append([event])
        self._catch_up()

    def _apply(self, e: dict[str, Any]) -> None:
        op = e["op"]
        if op == "add":
            t = Trace(**e["trace"])
            self._traces[t.uid] = t
            self._by_hash.setdefault(t.content_hash, t.uid)
        elif op == "replay":
            t = self._traces[e["uid"]]
            t.replay_count += 1
            t.updated_at = e["at"]
        elif op == "update":
            t = self._traces[e["uid"]]
            if self._by_hash.get(t.content_hash) == t.uid:
                del self._by_hash[t.content_hash]
            t.content, t.content_hash, t.tags = e["content"], e["content_hash"], e["tags"]
            t.version, t.updated_at = t.version + 1, e["at"]
            self._by_hash.setdefault(t.content_hash, t.uid)
        elif op == "revise":
            new = Trace(**e["trace"])
            self._traces[new.uid] = new
            self._by_hash[new.content_hash] = new.uid
            old = self._traces.get(new.predecessor or "")
            if old is not None:
                old.successor = new.uid
        elif op == "retire":
            t = self._traces[e["uid"]]
            t.retired, t.retired_at, t.updated_at = True, e["at"], e["at"]
            if self._by_hash.get(t.content_hash) == t.uid:
                del self._by_hash[t.content_hash]
        else:
            raise ValueError(f"unknown op {op!r}")
        self.stats.journal_events += 1
        self.stats.ops[op] = self.stats.ops.get(op, 0) + 1

    # -- operations ----------------------------------------------------------------------------

    def _live(self, uid: str) -> Trace:
        t = self._traces.get(uid)
        if t is None:
            raise TraceNotFound(uid)
        if t.retired:
            raise TraceRetired(f"trace {uid!r} is retired; revise or add a new one")
        return t

    def add(self, content: Any, tags: Sequence[str] | None = None, *, idempotent: bool = False) -> tuple[dict, bool]:
        """Store a trace. Returns (trace, created); with `idempotent`, known content is a replay."""
        content, tags = _check_content(content), _check_tags(tags)
        digest = content_hash(content)
        with self._writing():
            if idempotent and digest in self._by_hash:
                uid = self._by_hash[digest]
                self._commit({"op": "replay", "uid": uid, "at": utc_now()})
                return self._traces[uid].to_json(), False
            now = utc_now()
            trace = Trace(uuid.uuid4().hex, content, tags, digest, now, now)
            self._commit({"op": "add", "trace": trace.to_json()})
            return self._traces[trace.uid].to_json(), True

    def update(self, uid: str, content: Any, tags: Sequence[str] | None = None) -> dict:
        content = _check_content(content)
        with self._writing():
            t = self._live(uid)
            new_tags = t.tags if tags is None else _check_tags(tags)
            event = {"op": "update", "uid": uid, "content": content, "content_hash": content_hash(content)}
            self._commit({**event, "tags": new_tags, "at": utc_now()})
            return t.to_json()

    def revise(self, uid: str, content: Any, tags: Sequence[str] | None = None) -> dict:
        content = _check_content(content)
        with self._writing():
            old = self._live(uid)
            now = utc_now()
            new_tags = old.tags if tags is None else _check_tags(tags)
            trace = Trace(uuid.uuid4().hex, content, new_tags, content_hash(content), now, now, predecessor=uid)
            self._commit({"op": "revise", "trace": trace.to_json()})
            return self._traces[trace.uid].to_json()

    def retire(self, uid: str) -> dict:
        with self._writing():
            t = self._traces.get(uid)
            if t is None:
                raise TraceNotFound(uid)
            if not t.retired:
                self._commit({"op": "retire", "uid": uid, "at": utc_now()})
            return t.to_json()

    def get(self, uid: str) -> dict:
        with self._reading():
            t = self._traces.get(uid)
            if t is None:
                raise TraceNotFound(uid)
            return t.to_json()

    def history(self, uid: str) -> History:
        """The trace and its predecessors, newest first."""
        with self._reading():
            if uid not in self._traces:
                raise TraceNotFound(uid)
            out: list[dict[str, Any]] = []
            seen: set[str] = set()
            current: str | None = uid
            while current is not None:
                if current in seen:
                    return History(out, "cycle", current)
                t = self._traces.get(current)
                if t is None:
                    return History(out, "missing", current)
                seen.add(current)
                out.append(t.to_json())
                current = t.predecessor
            return History(out, "origin")

    def search(
        self,
        *,
        text: str | None = None,
        tags: Sequence[str] | None = None,
        where: Mapping[str, Any] | None = None,
        k: int = 10,
        include_retired: bool = False,
    ) -> list[Hit]:
        """Traces with all `tags` and whose content has every `where` field equal; ranked by similarity
        to `text` when given (through the embedder), else newest first."""
        if k < 1:
            raise PathwayError("k must be at least 1")
        wanted = set(_check_tags(tags))
        with self._reading():
            pool = [
                t
                for t in self._traces.values()
                if (include_retired or not t.retired)
                and wanted <= set(t.tags)
                and all(isinstance(t.content, Mapping) and t.content.get(f) == v for f, v in (where or {}).items())
            ]
            snapshot = [(t.uid, t.content_hash, searchable_text(t.content)) for t in pool]
        if text is None or not text.strip():
            pool.sort(key=lambda t: (t.updated_at, t.uid), reverse=True)
            return [Hit(t.to_json(), None) for t in pool[:k]]
        if self._embed is None:
            raise PathwayError("text search needs an embedder")
        vectors = self._vectors_for(snapshot)
        query = unit_rows(self._embed([text]))[0]
        scored = sorted(((float(vectors[uid] @ query), uid) for uid, _, _ in snapshot), key=lambda s: (-s[0], s[1]))[:k]
        with self._lock:
            return [Hit(self._traces[uid].to_json(), round(score, 6)) for score, uid in scored]

    def _vectors_for(self, snapshot: list[tuple[str, str, str]]) -> dict[str, np.ndarray]:
        """Unit vectors of the traces' text, embedding only those new or changed since last time."""
        missing = [(uid, h, text) for uid, h, text in snapshot if self._vectors.get(uid, ("",))[0] != h]
        if missing and self._embed is not None:
            vectors = unit_rows(self._embed([text for _, _, text in missing]))
            for (uid, h, _), v in zip(missing, vectors, strict=True):
                self._vectors[uid] = (h, v)
        return {uid: self._vectors[uid][1] for uid, _, _ in snapshot}

    def summary(self) -> PathwayStats:
        with self._reading():
            live = sum(not t.retired for t in self._traces.values())
            return PathwayStats(
                traces=len(self._traces),
                live=live,
                retired=len(self._traces) - live,
                replays=sum(t.replay_count for t in self._traces.values()),
                journal_events=self.stats.journal_events,
                skipped_lines=self.stats.skipped_lines,
                ops=dict(self.stats.ops),
            )
