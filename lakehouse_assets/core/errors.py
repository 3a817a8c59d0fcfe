"""The one base of every error a caller can act on.

A LakehouseError carries its HTTP status and a stable code (the `error` of the API's error body), and
whatever else the body should say (`fields()`); the API maps every one of them with a single handler
(api/errors.py). Each package keeps its own errors in its `exceptions.py`, derived from this base and,
where it helps callers that catch builtins, from ValueError or KeyError too.
"""

from __future__ import annotations

from typing import Any, ClassVar


class LakehouseError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal"

    def fields(self) -> dict[str, Any]:
        """Body fields beside `error` and `message` (None values are left out)."""
        return {}

    def headers(self) -> dict[str, str]:
        """Response headers: a 503 is a condition that passes (a server restarting, every slot taken), so it
        says when to try again."""
        return {"Retry-After": "1"} if self.status == 503 else {}

    def body(self) -> dict[str, Any]:
        extra = {k: v for k, v in self.fields().items() if v is not None}
        return {"error": self.code, "message": str(self), **extra}
