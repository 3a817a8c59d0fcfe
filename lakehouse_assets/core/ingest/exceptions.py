"""What goes wrong in ingest."""

from __future__ import annotations

from typing import Any

from lakehouse_assets.core.errors import LakehouseError


class BadCsv(LakehouseError, ValueError):
    """The upload is not a CSV we can ingest. `line` is the 1-based physical line, when known."""

    status = 400
    code = "bad_csv"

    def fields(self) -> dict[str, Any]:
        return {"line": self.line}

    def __init__(self, problem: str, line: int | None = None) -> None:
        self.problem = problem
        self.line = line
        super().__init__(f"{problem} (line {line})" if line is not None else problem)
