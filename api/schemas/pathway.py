from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class TraceIn(BaseModel):
    content: Any = Field(
        description="Opaque JSON: what happened, what worked.", examples=[{"text": "night welders: ask Ann first"}]
    )
    tags: list[str] | None = Field(default=None, examples=[["fill", "welder"]])


class AddTraceIn(TraceIn):
    idempotent: bool = Field(default=False, description="Same content returns the existing trace, replay_count + 1.")


class TraceOut(BaseModel):
    uid: str
    content: Any
    tags: list[str]
    content_hash: str
    created_at: str
    updated_at: str
    version: int
    predecessor: str | None
    successor: str | None
    retired: bool
    retired_at: str | None
    replay_count: int


class HistoryOut(BaseModel):
    traces: list[TraceOut] = Field(description="The trace, then its predecessors, newest first.")
    end: Literal["origin", "cycle", "missing"] = Field(
        description="origin: the first trace was reached; cycle or missing: the walk stopped at `at`."
    )
    at: str | None = None


class PathwaySearchIn(BaseModel):
    text: str | None = Field(default=None, description="Ranks by similarity (through the embedder).")
    tags: list[str] | None = Field(default=None, description="Every tag must be present.")
    where: dict[str, Any] | None = Field(default=None, description="Top-level content fields that must be equal.")
    k: int = Field(default=10, ge=1, le=1000)
    include_retired: bool = False


class PathwayHit(BaseModel):
    trace: TraceOut
    score: float | None


class PathwaySearchOut(BaseModel):
    hits: list[PathwayHit]


class PathwayStatsOut(BaseModel):
    traces: int
    live: int
    retired: int
    replays: int
    journal_events: int
    skipped_lines: int = Field(description="Journal lines that could not be replayed (corrupt or torn).")
    ops: dict[str, int]
