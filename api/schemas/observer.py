from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from lakehouse_assets.core.memory.observer import MAX_LENGTHS


class OpIn(BaseModel):
    endpoint: str = Field(min_length=1, max_length=MAX_LENGTHS["endpoint"], examples=["matrix_search"])
    source: Literal["mcp", "scenario", "api", "overseer_correction"]
    ok: bool
    latency_ms: float | None = Field(default=None, ge=0)
    error: str | None = Field(default=None, max_length=MAX_LENGTHS["error"])
    timestamp: str | None = Field(
        default=None, max_length=MAX_LENGTHS["timestamp"], description="ISO-8601; defaults to now."
    )
    method: str | None = Field(default=None, max_length=MAX_LENGTHS["method"])
    status: int | None = Field(default=None, ge=100, le=599)


class OpOut(BaseModel):
    endpoint: str
    source: str
    ok: bool
    latency_ms: float | None
    error: str | None
    timestamp: str
    method: str | None
    status: int | None


class EndpointStatsOut(BaseModel):
    count: int
    errors: int
    error_rate: float
    p50_ms: float | None
    p99_ms: float | None


class ObserverStatsOut(BaseModel):
    in_buffer: int
    capacity: int
    recorded: int = Field(description="Ops recorded since start.")
    replayed: int = Field(description="Ops replayed from the journal at start.")
    evicted: int = Field(description="Ops pushed out of the ring by newer ones since start.")
    dropped: int = Field(description="Middleware ops lost because the writer fell behind (should be 0).")
    skipped_lines: int = Field(description="Unreadable journal lines skipped at start.")
    sample_rate: float
    by_source: dict[str, int]
    by_endpoint: dict[str, EndpointStatsOut]
    recent_scenario: list[dict[str, Any]] = Field(description="The last 10 scenario ops.")
