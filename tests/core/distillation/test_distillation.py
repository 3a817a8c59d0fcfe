"""Evidence from the day's journals, the scoring rubric, and the SFT candidates behind the firewall."""

from __future__ import annotations

import json

import pytest

from lakehouse_assets.core.distillation.evidence import build_evidence
from lakehouse_assets.core.distillation.scoring import score_record, score_table
from lakehouse_assets.core.distillation.sft import Firewall, candidates, export_jsonl, input_hash
from lakehouse_assets.core.memory.journal import DailyJournal, JsonlJournal
from lakehouse_assets.core.memory.playbooks import PlaybookLog, PlaybookRecord
from lakehouse_assets.core.settings import LakehouseSettings
from tests.core.memory.test_pathway import bag_of_words

DAY = "2026-11-20"


def session(sid: str, *, accepted: bool = True, attempts: int = 1, grounded: bool | None = True) -> dict:
    value = {"contract_id": "C-1", "target_count": 1, "candidates": [{"worker_id": "1", "reason": "fits"}]}
    return {
        "schema": "session.iterate.v1",
        "session_id": sid,
        "kind": "fill",
        "answered_by": "qwen3.5:latest",
        "verdict": "accepted" if accepted else "max_iterations",
        "accepted": accepted,
        "value": value if accepted else None,
        "attempts": [{"prompt": f"Fill C-1 ({sid})", "raw": json.dumps(value), "error": None}] * attempts,
        "total_tokens": 120,
        "latency_ms": 300.0,
        "grounded_in_roster": grounded,
    }


def seed_journals(s: LakehouseSettings) -> None:
    """One day of every journal: 2 observer ops, 3 iterate sessions (+ a torn line), 1 playbook of the
    day (and one of the day before), 1 replay run."""
    DailyJournal(s.observer_log_dir).day(DAY).append(
        [
            {"endpoint": "/v1/sql", "source": "api", "ok": True, "latency_ms": 3.5, "method": "POST", "status": 200},
            {
                "endpoint": "/v1/sql",
                "source": "api",
                "ok": False,
                "latency_ms": 1.0,
                "status": 400,
                "error": "HTTP 400",
            },
        ]
    )
    DailyJournal(s.session_log_dir).day(DAY).append(
        [session("s1"), session("s2", attempts=3), session("s3", accepted=False)]
    )
    log = PlaybookLog(s.playbook_log_path)
    log.append(
        [
            PlaybookRecord("welders Ohio", ("1",), recorded_at=f"{DAY}T10:00:00.000Z"),
            PlaybookRecord("other day", ("2",), recorded_at="2026-11-19T10:00:00.000Z"),
        ]
    )
    replay = {
        "schema": "replay.run.v1",
        "kind": "fill",
        "prompt": "Fill C-2",
        "task_id": "s1",
        "verdict": "rejected",
        "error": {"Consistency": {"reason": "worker 9 is not in the roster"}},
        "tokens": 50,
        "model": "m",
        "extracted": {"x": 1},
        "raw": "{}",
        "latency_ms": 10.0,
        "grounded": False,
    }
    DailyJournal(s.replay_log_dir).day(DAY).append([replay])
    with open(s.session_log_dir / f"{DAY}.jsonl", "ab") as f:
        f.write(b'{"torn": ')


@pytest.fixture
def settings(tmp_path) -> LakehouseSettings:
    s = LakehouseSettings(home=tmp_path / "lake", _env_file=None)
    seed_journals(s)
    return s


def test_evidence_covers_every_source_with_provenance(settings):
    table, receipt = build_evidence(settings, DAY)
    rows = table.to_pylist()
    assert dict(receipt.counts) == {"observer": 2, "iterate": 3, "playbook": 1, "replay": 1}
    assert receipt.skipped["iterate"] == 1  # the torn line
    observer = [r for r in rows if r["source"] == "observer"]
    assert [r["provenance_line"] for r in observer] == [0, 1]  # line 0 included
    assert observer[0]["provenance_offset"] == 0 and observer[1]["provenance_offset"] > 0
    assert observer[0]["provenance_file"] == f"journal/observer/{DAY}.jsonl"
    raw = (settings.observer_log_dir / f"{DAY}.jsonl").read_bytes()
    assert json.loads(raw[observer[1]["provenance_offset"] :].split(b"\n")[0])["status"] == 400
    it = {json.loads(r["input"])["session_id"]: r for r in rows if r["source"] == "iterate"}
    assert it["s2"]["retries"] == 2 and it["s1"]["ok"] and not it["s3"]["ok"]
    [pb] = [r for r in rows if r["source"] == "playbook"]
    assert json.loads(pb["input"])["query"] == "welders Ohio" and pb["provenance_line"] == 0
    [rp] = [r for r in rows if r["source"] == "replay"]
    assert rp["grounded"] is False and rp["verdict"] == "rejected"


def test_evidence_is_deterministic(settings):
    first, r1 = build_evidence(settings, DAY)
    second, r2 = build_evidence(settings, DAY)
    assert first.equals(second) and r1.output_hash == r2.output_hash
    JsonlJournal(settings.observer_log_dir / f"{DAY}.jsonl").append([{"endpoint": "x", "source": "mcp", "ok": True}])
    assert build_evidence(settings, DAY)[1].output_hash != r1.output_hash


@pytest.mark.parametrize(
    ("record", "score", "label"),
    [
        ({"verdict": "accepted", "retries": 0, "grounded": True, "latency_ms": 300, "tokens": 100}, 1.0, "gold"),
        ({"verdict": "accepted", "retries": 2, "grounded": True}, 0.7, "silver"),
        ({"verdict": "accepted", "grounded": False}, 0.0, "reject"),
        ({"verdict": "ok", "latency_ms": 2500}, 0.95, "gold"),
        ({"verdict": "ok", "latency_ms": 12000, "tokens": 9000}, 0.8, "gold"),
        ({"verdict": "accepted", "retries": 1, "tokens": 3000}, 0.8, "gold"),
        ({"verdict": "partial"}, 0.5, "silver"),
        ({"verdict": "accepted", "retries": 4}, 0.4, "bronze"),
        ({"verdict": "max_iterations", "retries": 2}, 0.0, "reject"),
        ({"verdict": "error"}, 0.0, "reject"),
    ],
)
def test_scoring_rubric(record, score, label):
    s = score_record(record)
    assert (s.score, s.label) == (pytest.approx(score), label)


def test_sft_candidates_and_the_firewall(settings):
    scored = score_table(build_evidence(settings, DAY)[0])
    examples = candidates(scored, DAY, min_score=0.8)
    assert [e.prompt for e in examples] == ["Fill C-1 (s1)"]  # s2 needed retries, s3 failed, replay rejected
    line = json.loads(export_jsonl(examples))
    assert [m["role"] for m in line["messages"]] == ["system", "user", "assistant"]
    assert json.loads(line["messages"][2]["content"])["contract_id"] == "C-1"
    assert len(candidates(scored, DAY, min_score=0.7)) == 2

    firewall = Firewall(["  fill c-1 (S1) ", "night forklift operators in Joliet"], bag_of_words, threshold=0.9)
    found = firewall.check(["Fill C-1 (s1)", "forklift operators in Joliet night", "something unrelated"])
    assert found[0].reason == "exact" and found[0].holdout_index == 0
    assert found[1].reason == "near_duplicate" and found[1].similarity >= 0.9
    assert found[2] is None
    assert input_hash("A  b") == input_hash("a b")
