"""Bounded slots for the kinds of work that hold a thread for long: uploads being converted, SQL, LLM calls.

Sync routes and ingest conversions run on one pool of threads. Without bounds of their own, a few dozen
uploads a client trickles (each conversion waits on its bytes in a thread), or long chat and iterate calls,
took every thread, and every other route (and /health) waited behind them. Past its bound a kind is answered
at once with 503 and Retry-After naming the setting, and the rest of the API keeps its threads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import Depends, Request

from lakehouse_assets.core.errors import LakehouseError


class Overloaded(LakehouseError):
    """503: every slot of one kind of work is taken."""

    status = 503
    code = "overloaded"

    def fields(self) -> dict[str, Any]:
        return {"limit": self.limit}

    def __init__(self, kind: str, limit: int, setting: str) -> None:
        self.kind, self.limit, self.setting = kind, limit, setting
        super().__init__(f"{limit} {kind} already running, the limit ({setting}): retry shortly")


class Slots:
    """How many of each kind run now, against their limits (the event loop is one thread: no lock)."""

    def __init__(self, limits: dict[str, tuple[int, str]]) -> None:
        self.limits = limits  # kind -> (limit, setting that sets it)
        self.busy = dict.fromkeys(limits, 0)

    def take(self, kind: str) -> None:
        limit, setting = self.limits[kind]
        if self.busy[kind] >= limit:
            raise Overloaded(kind, limit, setting)
        self.busy[kind] += 1

    def give(self, kind: str) -> None:
        self.busy[kind] -= 1


def slot(kind: str) -> Any:
    """A route dependency holding one `kind` slot for the request."""

    async def held(request: Request) -> AsyncIterator[None]:
        slots: Slots = request.app.state.slots
        slots.take(kind)
        try:
            yield
        finally:
            slots.give(kind)

    held.__name__ = f"{kind.replace(' ', '_')}_slot"
    return Depends(held)
