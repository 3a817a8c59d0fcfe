from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class ErrorBody(BaseModel):
    """Every error the API returns: a stable code, a message that names the problem, and details."""

    model_config = ConfigDict(extra="allow")

    error: str
    message: str
    line: int | None = None
    details: Any = None
