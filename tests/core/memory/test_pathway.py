"""Pathway memory: versioned traces over an append-only journal that survives crashes."""

from __future__ import annotations

import json
import zlib

import numpy as np
import pytest

from lakehouse_assets.core.memory.pathway import PathwayError, PathwayMemory, TraceNotFound, TraceRetired


def bag_of_words(texts: list[str]) -> np.ndarray:
    """A deterministic stand-in embedder: hashed word counts (texts sharing words are similar)."""
    out = np.zeros((len(texts), 64), dtype=np.float32)
    for i, t in enumerate(texts):
        for w in t.lower().split():
            out[i, zlib.crc32(w.encode()) % 64] += 1
    return out


@pytest.fixture
def path(tmp_path):
    return tmp_path / "journal" / "pathway.jsonl"


@pytest.fixture
def memory(path) -> PathwayMemory:
    return PathwayMemory(path, embed=bag_of_words)


def test_add_get_and_copies_cannot_mutate_state(memory):
    trace, created = memory.add({"text": "night welders", "ids": [1, 2]}, ["fill"])
    assert created and trace["version"] == 1 and trace["created_at"] == trace["updated_at"]
    trace["content"]["ids"].append(99)
    got = memory.get(trace["uid"])
    assert got["content"] == {"text": "night welders", "ids": [1, 2]}
    got["tags"].append("mutated")
    assert memory.get(trace["uid"])["tags"] == ["fill"]


def test_idempotent_add_is_a_replay(memory):
    first, _ = memory.add({"b": 1, "a": 2}, idempotent=True)
    again, created = memory.add({"a": 2, "b": 1}, idempotent=True)  # same content, other key order
    assert not created and again["uid"] == first["uid"] and again["replay_count"] == 1
    plain, created = memory.add({"a": 2, "b": 1})
    assert created and plain["uid"] != first["uid"]
    assert memory.summary().replays == 1


def test_update_revise_retire_history(memory):
    t, _ = memory.add({"step": 1}, ["a"])
    updated = memory.update(t["uid"], {"step": 2})
    assert updated["uid"] == t["uid"] and updated["version"] == 2 and updated["tags"] == ["a"]
    revised = memory.revise(t["uid"], {"step": 3}, ["b"])
    assert revised["uid"] != t["uid"] and revised["predecessor"] == t["uid"]
    assert memory.get(t["uid"])["successor"] == revised["uid"]
    newest = memory.revise(revised["uid"], {"step": 4})
    history = memory.history(newest["uid"])
    assert [h["content"]["step"] for h in history.traces] == [4, 3, 2] and history.end == "origin"

    memory.retire(revised["uid"])
    assert memory.get(revised["uid"])["retired"] is True  # still readable
    assert [h["uid"] for h in memory.history(newest["uid"]).traces][1] == revised["uid"]
    with pytest.raises(TraceRetired):
        memory.update(revised["uid"], {"step": 9})
    with pytest.raises(TraceNotFound):
        memory.get("nope")


def test_retired_traces_are_excluded_from_search(memory):
    keep, _ = memory.add({"text": "forklift operator night shift Illinois"}, ["fill"])
    gone, _ = memory.add({"text": "forklift operator night shift Ohio"}, ["fill"])
    memory.retire(gone["uid"])
    hits = memory.search(text="forklift night shift", k=5)
    assert [h.trace["uid"] for h in hits] == [keep["uid"]]
    assert {h.trace["uid"] for h in memory.search(tags=["fill"], include_retired=True)} == {keep["uid"], gone["uid"]}
    # an idempotent add of retired content makes a new live trace
    again, created = memory.add({"text": "forklift operator night shift Ohio"}, idempotent=True)
    assert created and again["uid"] != gone["uid"]


def test_search_by_tags_fields_and_text(memory):
    a, _ = memory.add({"text": "welder in Ohio with MIG", "role": "welder"}, ["fill", "oh"])
    b, _ = memory.add({"text": "electrician in Texas", "role": "electrician"}, ["fill"])
    memory.add({"text": "welder sms template", "role": "welder"}, ["sms"])
    assert [h.trace["uid"] for h in memory.search(tags=["fill", "oh"])] == [a["uid"]]
    assert [h.trace["uid"] for h in memory.search(where={"role": "electrician"})] == [b["uid"]]
    hits = memory.search(text="welder Ohio MIG", tags=["fill"])
    assert hits[0].trace["uid"] == a["uid"] and hits[0].score > hits[1].score
    with pytest.raises(PathwayError):
        memory.search(k=0)


def test_history_with_a_cycle_or_a_missing_predecessor_ends_with_a_marker(path):
    def trace(uid: str, predecessor: str | None) -> dict:
        return {
            "op": "revise" if predecessor else "add",
            "trace": {
                "uid": uid,
                "content": {"uid": uid},
                "tags": [],
                "content_hash": uid,
                "created_at": "2026-11-21T00:00:00.000Z",
                "updated_at": "2026-11-21T00:00:00.000Z",
                "predecessor": predecessor,
            },
        }

    path.parent.mkdir(parents=True)
    lines = [trace("a", "c"), trace("b", "a"), trace("c", "b"), trace("x", "ghost")]
    path.write_text("".join(json.dumps(e) + "\n" for e in lines))
    memory = PathwayMemory(path)
    cyc = memory.history("c")
    assert [t["uid"] for t in cyc.traces] == ["c", "b", "a"] and (cyc.end, cyc.at) == ("cycle", "c")
    missing = memory.history("x")
    assert [t["uid"] for t in missing.traces] == ["x"] and (missing.end, missing.at) == ("missing", "ghost")


def test_journal_replays_and_survives_a_torn_write(path):
    memory = PathwayMemory(path, embed=bag_of_words)
    a, _ = memory.add({"n": 1}, ["x"])
    memory.update(a["uid"], {"n": 2})
    b, _ = memory.add({"n": 3}, idempotent=True)
    memory.add({"n": 3}, idempotent=True)
    memory.retire(b["uid"])
    c, _ = memory.add({"n": 4})
    # crash in the middle of writing the last event: cut the file inside its line
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) - 20])

    restarted = PathwayMemory(path, embed=bag_of_words)
    assert restarted.get(a["uid"])["content"] == {"n": 2} and restarted.get(a["uid"])["version"] == 2
    assert restarted.get(b["uid"])["retired"] and restarted.get(b["uid"])["replay_count"] == 1
    with pytest.raises(TraceNotFound):
        restarted.get(c["uid"])  # the torn event never happened
    stats = restarted.summary()
    assert stats.skipped_lines == 1 and stats.traces == 2 and stats.retired == 1
    # and the journal keeps working after the torn line
    d, _ = restarted.add({"n": 5})
    assert PathwayMemory(path).get(d["uid"])["content"] == {"n": 5}


@pytest.mark.parametrize(
    ("content", "tags", "problem"),
    [(None, None, "required"), ({"a": 1}, "fill", "tags"), ({"a": 1}, [""], "tags"), ({"a": {1, 2}}, None, "JSON")],
)
def test_bad_input(memory, content, tags, problem):
    with pytest.raises(PathwayError, match=problem):
        memory.add(content, tags)
    assert memory.summary().traces == 0


def test_two_processes_sharing_a_journal_see_and_respect_each_others_writes(path):
    """The API's worker processes each hold a PathwayMemory over one journal (here: two instances)."""
    a, b = PathwayMemory(path), PathwayMemory(path)
    trace, _ = a.add({"text": "night shift forklift fill"}, ["fill"])
    assert b.get(trace["uid"])["content"] == {"text": "night shift forklift fill"}
    b.retire(trace["uid"])
    with pytest.raises(TraceRetired):  # a checks against the journal as it is now, not as it last saw it
        a.update(trace["uid"], {"text": "changed"})
    assert a.get(trace["uid"])["retired"] and a.summary().retired == 1


def test_idempotent_adds_racing_from_two_processes_store_one_trace(path):
    import threading

    memories = [PathwayMemory(path) for _ in range(2)]
    results: list[bool] = []
    lock = threading.Lock()

    def add(memory: PathwayMemory) -> None:
        for _ in range(10):
            _, created = memory.add({"text": "same content"}, idempotent=True)
            with lock:
                results.append(created)

    threads = [threading.Thread(target=add, args=(m,)) for m in memories]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1  # one of twenty adds created it; the rest were replays of it
    restarted = PathwayMemory(path).summary()
    assert (restarted.traces, restarted.replays) == (1, 19)
