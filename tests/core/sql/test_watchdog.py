"""The SQL time limit's single deadline thread."""

from __future__ import annotations

import threading
import time

import pytest

from lakehouse_assets.core.sql.watchdog import Watchdog


@pytest.fixture
def watchdog():
    w = Watchdog()
    yield w
    w.close()


def test_a_deadline_fires_once_after_its_time(watchdog):
    fired = threading.Event()
    armed_at = time.monotonic()
    watchdog.arm(0.05, fired.set)
    assert fired.wait(5)
    assert time.monotonic() - armed_at >= 0.05


def test_a_disarmed_deadline_never_fires(watchdog):
    fired = threading.Event()
    handle = watchdog.arm(0.05, fired.set)
    assert watchdog.disarm(handle) is True
    assert not fired.wait(0.2)
    assert watchdog.disarm(handle) is False


def test_a_nearer_deadline_armed_later_fires_first(watchdog):
    order: list[str] = []
    done = threading.Event()
    watchdog.arm(0.4, lambda: (order.append("far"), done.set()))
    watchdog.arm(0.02, lambda: order.append("near"))
    assert done.wait(5)
    assert order == ["near", "far"]


def test_a_failing_callback_does_not_stop_later_deadlines(watchdog):
    fired = threading.Event()

    def boom() -> None:
        raise RuntimeError("cursor already closed")

    watchdog.arm(0.01, boom)
    watchdog.arm(0.05, fired.set)
    assert fired.wait(5)


def test_many_disarmed_deadlines_do_not_pile_up(watchdog):
    for _ in range(10_000):
        watchdog.disarm(watchdog.arm(60, lambda: None))
    assert len(watchdog._heap) < 200


def test_arming_a_closed_watchdog_is_an_error():
    w = Watchdog()
    w.close()
    with pytest.raises(RuntimeError, match="closed"):
        w.arm(1, lambda: None)
