"""Append-only JSONL journals: fsync'd appends, replay that skips and counts bad lines, daily files."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from functools import partial

import pytest

from lakehouse_assets.core.memory.journal import DailyJournal, JsonlJournal


def test_append_then_replay_in_order_with_offsets(tmp_path):
    journal = JsonlJournal(tmp_path / "j" / "log.jsonl")
    journal.append([{"n": 1}, {"n": 2, "text": "naïve ✓"}])
    journal.append([{"n": 3}])
    replay = journal.replay()
    assert replay.records == [{"n": 1}, {"n": 2, "text": "naïve ✓"}, {"n": 3}] and replay.skipped_lines == 0
    raw = journal.path.read_bytes()
    for line in replay.lines:  # each offset points at the start of its own line
        assert raw[line.offset :].startswith(b'{"n": ' + str(line.record["n"]).encode())
    assert [line.lineno for line in replay.lines] == [1, 2, 3]


def test_corrupt_and_torn_lines_are_skipped_and_counted(tmp_path):
    journal = JsonlJournal(tmp_path / "log.jsonl")
    journal.append([{"n": 1}])
    with journal.path.open("ab") as f:
        f.write(b"not json\n[1, 2]\n\n")
    journal.append([{"n": 2}])
    with journal.path.open("ab") as f:
        f.write(b'{"n": 3, "torn')  # a crash mid-write
    replay = journal.replay()
    assert replay.records == [{"n": 1}, {"n": 2}] and replay.skipped_lines == 3


def test_a_missing_journal_is_empty(tmp_path):
    assert JsonlJournal(tmp_path / "none.jsonl").replay().records == []


def test_concurrent_appends_never_interleave(tmp_path):
    journal = JsonlJournal(tmp_path / "log.jsonl")
    payload = "x" * 5000

    def writer(w: int) -> None:
        for i in range(50):
            journal.append([{"w": w, "i": i, "p": payload}])

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    replay = journal.replay()
    assert replay.skipped_lines == 0 and len(replay.records) == 200
    assert sorted((r["w"], r["i"]) for r in replay.records) == [(w, i) for w in range(4) for i in range(50)]


def test_daily_journal_keeps_one_file_per_day(tmp_path):
    daily = DailyJournal(tmp_path / "sessions")
    daily.day("2026-11-20").append([{"a": 1}])
    daily.day("2026-11-21").append([{"b": 2}])
    assert daily.days() == ["2026-11-20", "2026-11-21"]
    assert daily.day("2026-11-21").replay().records == [{"b": 2}]
    for bad in ("../etc/passwd", "2026-13-01", "yesterday"):
        with pytest.raises(ValueError):
            daily.day(bad)


def test_appending_after_a_torn_line_starts_a_new_line(tmp_path):
    path = tmp_path / "log.jsonl"
    JsonlJournal(path).append([{"n": 1}])
    with path.open("ab") as f:
        f.write(b'{"n": 2, "to')  # the crash
    restarted = JsonlJournal(path)
    restarted.append([{"n": 3}])
    restarted.append([{"n": 4}])
    replay = restarted.replay()
    assert replay.records == [{"n": 1}, {"n": 3}, {"n": 4}] and replay.skipped_lines == 1


def test_tail_returns_whole_lines_only_and_goes_on_from_its_cursor(tmp_path):
    """A reader following a journal another process writes: what was appended since, never half a line."""
    reader, writer = JsonlJournal(tmp_path / "log.jsonl"), JsonlJournal(tmp_path / "log.jsonl")
    assert reader.tail()[0] == [] and not reader.path.exists()  # no journal yet: nothing, and no file made
    writer.append([{"n": 1}, {"n": 2}])
    lines, cursor = reader.tail()
    assert [line.record for line in lines] == [{"n": 1}, {"n": 2}] and cursor.lineno == 2
    with writer.path.open("ab") as f:
        f.write(b'{"n": 3')  # a write in progress
    lines, same = reader.tail(cursor)
    assert lines == [] and same == cursor
    with writer.path.open("ab") as f:
        f.write(b"}\nnot json\n")
    lines, cursor = reader.tail(cursor)
    assert [(line.lineno, line.record) for line in lines] == [(3, {"n": 3}), (4, None)]
    assert cursor.offset == writer.size()


def test_a_torn_last_line_is_passed_over_by_a_settled_read_and_the_next_append_starts_a_new_line(tmp_path):
    journal = JsonlJournal(tmp_path / "log.jsonl")
    journal.append([{"n": 1}])
    with journal.path.open("ab") as f:
        f.write(b'{"n": 2, "cut')  # a crash mid-append
    lines, cursor = journal.tail(settled=True)
    assert [line.record for line in lines] == [{"n": 1}, None] and cursor.offset == journal.size()
    JsonlJournal(journal.path).append([{"n": 3}])
    more, _ = journal.tail(cursor)
    assert [line.record for line in more] == [{"n": 3}]


def test_a_locked_journal_holds_off_another_processs_append(tmp_path):
    import subprocess
    import sys
    import time

    journal = JsonlJournal(tmp_path / "log.jsonl")
    script = (
        "import sys; from pathlib import Path; from lakehouse_assets.core.memory.journal import JsonlJournal; "
        "print('ready', flush=True); JsonlJournal(Path(sys.argv[1])).append([{'from': 'child'}]); print('done')"
    )
    with journal.locked():
        journal.append([{"from": "parent", "n": 1}])  # the lock holder appends freely
        child = subprocess.Popen([sys.executable, "-c", script, str(journal.path)], stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        time.sleep(1.0)  # the child has had time to append, were it not held off
        assert child.poll() is None and [r["from"] for r in journal.replay().records] == ["parent"]
        journal.append([{"from": "parent", "n": 2}])
    assert child.wait(30) == 0
    assert [r["from"] for r in journal.replay().records] == ["parent", "parent", "child"]


def write_while_the_first_is_held(
    journal: JsonlJournal, monkeypatch, first: Callable[[], None], later: list[Callable[[], None]], fail: int = 0
) -> int:
    """Run `first`, hold its fsync until every call of `later` has queued behind it, then let them all go; the
    fsync numbered `fail` (1-based, 0: none) raises ENOSPC. Returns how many fsyncs ran."""
    syncs: list[int] = []
    entered, release = threading.Event(), threading.Event()
    real_fsync = os.fsync

    def held_fsync(fd: int) -> None:
        syncs.append(fd)
        if len(syncs) == 1:
            entered.set()
            release.wait(10)
        if len(syncs) == fail:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr("lakehouse_assets.core.memory.journal.os.fsync", held_fsync)
    head = threading.Thread(target=first)
    head.start()
    assert entered.wait(10)
    tails = [threading.Thread(target=call) for call in later]
    for t in tails:
        t.start()
    while len(journal._batch) < len(later):
        threading.Event().wait(0.01)
    release.set()
    for t in [head, *tails]:
        t.join(10)
    return len(syncs)


def test_appends_arriving_during_a_write_share_the_next_fsync(tmp_path, monkeypatch):
    journal = JsonlJournal(tmp_path / "log.jsonl")
    later = [partial(journal.append, [{"n": n}, {"n": n, "second": True}]) for n in range(1, 21)]
    syncs = write_while_the_first_is_held(journal, monkeypatch, partial(journal.append, [{"n": 0}]), later)
    assert syncs == 2  # the first write, then the twenty queued meanwhile together
    records = journal.replay().records
    assert len(records) == 41 and records[0] == {"n": 0}
    for n in range(1, 21):  # one append's records stay together, in order
        i = records.index({"n": n})
        assert records[i + 1] == {"n": n, "second": True}


def test_a_failed_group_write_fails_every_append_in_it_and_the_next_goes_on(tmp_path, monkeypatch):
    journal = JsonlJournal(tmp_path / "log.jsonl")
    errors: list[BaseException] = []

    def append(n: int) -> None:
        try:
            journal.append([{"n": n}])
        except OSError as e:
            errors.append(e)

    later = [partial(append, n) for n in range(1, 6)]
    write_while_the_first_is_held(journal, monkeypatch, partial(append, 0), later, fail=2)
    assert len(errors) == 5 and all("No space" in str(e) for e in errors)  # each caller of the failed write hears
    journal.append([{"n": 99}])
    assert journal.replay().records[-1] == {"n": 99}
