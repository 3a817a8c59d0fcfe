from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class SqlRequest(BaseModel):
    sql: str = Field(description="One read-only statement (SELECT, WITH, VALUES, ...).")
    limit: int | None = Field(default=None, ge=0, description="Row limit; defaults to the server's.")
    timeout_ms: int | None = Field(default=None, gt=0, description="Time limit; defaults to the server's.")


class SqlColumn(BaseModel):
    name: str
    type: str


class SqlResponse(BaseModel):
    columns: list[SqlColumn]
    rows: list[list[Any]]
    row_count: int
    truncated: bool
    elapsed_ms: float
