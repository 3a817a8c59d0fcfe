"""What goes wrong in ingest."""

from __future__ import annotations


class BadCsv(ValueError):
    """The upload is not a CSV we can ingest. `line` is the 1-based physical line, when known."""

    def __init__(self, problem: str, line: int | None = None) -> None:
        self.problem = problem
        self.line = line
        super().__init__(f"{problem} (line {line})" if line is not None else problem)
