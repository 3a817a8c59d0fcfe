"""The observer: a bounded ring that never refuses a write, the last scenario ops, and a journal that
replays after a crash."""

from __future__ import annotations

import pytest

from lakehouse_assets.core.memory.journal import DailyJournal
from lakehouse_assets.core.memory.observer import InvalidOp, Observer, Op


@pytest.fixture
def journal(tmp_path) -> DailyJournal:
    return DailyJournal(tmp_path / "observer")


def op(i: int, source: str = "api", ok: bool = True, endpoint: str = "/v1/sql") -> Op:
    return Op(endpoint=endpoint, source=source, ok=ok, latency_ms=float(i))


def test_ring_rolls_over_and_scenario_ops_are_capped(journal):
    obs = Observer(journal, ring_size=5)
    for i in range(8):
        obs.record(op(i))
    for i in range(12):
        obs.record(op(100 + i, source="scenario", endpoint="scenario/fill"))
    stats = obs.stats()
    assert stats["in_buffer"] == 5 and stats["evicted"] == 15 and stats["recorded"] == 20
    assert [r["latency_ms"] for r in obs.recent(5)] == [107.0, 108.0, 109.0, 110.0, 111.0]
    assert [r["latency_ms"] for r in stats["recent_scenario"]] == [float(100 + i) for i in range(2, 12)]
    assert stats["by_source"] == {"api": 8, "scenario": 12}


def test_stats_per_endpoint(journal):
    obs = Observer(journal)
    for i in range(1, 101):
        obs.record(op(i, ok=i % 10 != 0))
    obs.record(Op(endpoint="mcp:query_sql", source="mcp", ok=False, error="boom"))
    e = obs.stats()["by_endpoint"]
    assert e["/v1/sql"]["count"] == 100 and e["/v1/sql"]["errors"] == 10 and e["/v1/sql"]["error_rate"] == 0.1
    assert e["/v1/sql"]["p50_ms"] == pytest.approx(50.5) and e["/v1/sql"]["p99_ms"] == pytest.approx(99.01)
    assert e["mcp:query_sql"] == {"count": 1, "errors": 1, "error_rate": 1.0, "p50_ms": None, "p99_ms": None}


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ({"source": "api", "ok": True}, "endpoint"),
        ({"endpoint": "x", "ok": True}, "source"),
        ({"endpoint": "x", "source": "api"}, "ok"),
        ({"endpoint": "x", "source": "cron", "ok": True}, "cron"),
        ({"endpoint": "x", "source": "api", "ok": "yes"}, "ok"),
        ({"endpoint": "x", "source": "api", "ok": True, "latency_ms": -1}, "latency_ms"),
        ({"endpoint": "x", "source": "api", "ok": True, "timestamp": "yesterday"}, "timestamp"),
    ],
)
def test_required_fields_are_validated(journal, record, problem):
    with pytest.raises(InvalidOp, match=problem):
        Op.from_json(record)


def test_timestamp_defaults_to_now():
    assert Op.from_json({"endpoint": "x", "source": "mcp", "ok": True}).timestamp.endswith("Z")


def test_journal_replays_into_the_ring_after_a_torn_write(journal):
    obs = Observer(journal, ring_size=100)
    for i in range(10):
        obs.record(op(i))
    [day] = journal.days()
    path = journal.day(day).path
    raw = path.read_bytes()
    path.write_bytes(raw[:-15])  # the last op was being written when the process died

    restarted = Observer(DailyJournal(journal.directory), ring_size=100)
    stats = restarted.stats()
    assert stats["replayed"] == 9 and stats["skipped_lines"] == 1 and stats["in_buffer"] == 9
    assert [r["latency_ms"] for r in restarted.recent(3)] == [6.0, 7.0, 8.0]
    restarted.record(op(42))
    assert Observer(DailyJournal(journal.directory)).stats()["replayed"] == 10


def test_replay_keeps_only_the_newest_ops(journal):
    journal.day("2026-11-19").append([op(i).to_json() for i in range(5)])
    journal.day("2026-11-20").append([op(10 + i).to_json() for i in range(5)])
    obs = Observer(journal, ring_size=7)
    assert [r["latency_ms"] for r in obs.recent(10)] == [3.0, 4.0, 10.0, 11.0, 12.0, 13.0, 14.0]


def test_async_records_are_journaled_in_the_background(journal):
    obs = Observer(journal)
    for i in range(300):
        obs.record_async(op(i))
    obs.flush()
    assert obs.stats()["in_buffer"] == 300
    [day] = journal.days()
    assert len(journal.day(day).replay().records) == 300
    obs.close()


def test_sampling(journal):
    assert Observer(journal, sample_rate=1.0).sampled()
    never = Observer(journal, sample_rate=0.0)
    assert not any(never.sampled() for _ in range(100))


def test_observers_sharing_a_journal_each_see_every_op(tmp_path):
    """The API's worker processes each keep a ring over one journal folder (here: two observers)."""
    a, b = Observer(DailyJournal(tmp_path / "ops")), Observer(DailyJournal(tmp_path / "ops"))
    a.record(op(1, endpoint="/v1/sql"))
    b.record_async(op(2, endpoint="/v1/matrix/search"))
    b.flush()
    for observer in (a, b):
        assert [o["endpoint"] for o in observer.recent()] == ["/v1/sql", "/v1/matrix/search"]
        assert observer.stats()["by_endpoint"]["/v1/sql"]["count"] == 1
    b.close()
