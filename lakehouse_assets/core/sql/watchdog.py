"""One long-lived thread that fires callbacks at deadlines.

A `threading.Timer` per query starts (and joins the start of) a new thread every time: about a quarter
of a millisecond, which is a tenth of a small GROUP BY. Arming and disarming a deadline here is a heap
push and a notify under one lock.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Watchdog:
    """Calls `callback` once `seconds` have passed, unless the returned handle is disarmed first.

    Callbacks run on the watchdog's thread and must be quick (interrupting a DuckDB cursor is).
    """

    def __init__(self, name: str = "watchdog") -> None:
        self._name = name
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int]] = []
        self._callbacks: dict[int, Callable[[], None]] = {}
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None
        self._closed = False

    def arm(self, seconds: float, callback: Callable[[], None]) -> int:
        with self._cond:
            if self._closed:
                raise RuntimeError("the watchdog is closed")
            handle = next(self._ids)
            self._callbacks[handle] = callback
            heapq.heappush(self._heap, (time.monotonic() + seconds, handle))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            elif self._heap[0][1] == handle:  # the new deadline is the nearest: wake the thread to re-sleep
                self._cond.notify()
            return handle

    def disarm(self, handle: int) -> bool:
        """True when the callback had not fired yet (and now never will)."""
        with self._cond:
            pending = self._callbacks.pop(handle, None) is not None
            if len(self._heap) > 2 * len(self._callbacks) + 64:  # mostly disarmed entries: drop them now
                self._heap = [entry for entry in self._heap if entry[1] in self._callbacks]
                heapq.heapify(self._heap)
            return pending

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._closed:
                        return
                    while self._heap and self._heap[0][1] not in self._callbacks:
                        heapq.heappop(self._heap)  # disarmed
                    if not self._heap:
                        self._cond.wait()
                        continue
                    wait = self._heap[0][0] - time.monotonic()
                    if wait <= 0:
                        _, handle = heapq.heappop(self._heap)
                        callback = self._callbacks.pop(handle)
                        break
                    self._cond.wait(wait)
            try:
                callback()
            except Exception:  # a callback racing its own cleanup must not stop the watchdog
                log.exception("watchdog callback failed")

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._callbacks.clear()
            self._heap.clear()
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout=5)
