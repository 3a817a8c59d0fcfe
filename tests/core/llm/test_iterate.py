"""The iterate loop over a fake Ollama on loopback, validated against a real roster dataset, and the
session journal it leaves behind."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from lakehouse_assets.core.llm.chat import ChatRouter, UpstreamError, chat_router_from_settings
from lakehouse_assets.core.llm.iterate import SCHEMA, InvalidIterateRequest, IterateSpec, run_iterate
from lakehouse_assets.core.llm.validation import Roster, UnknownKind
from lakehouse_assets.core.memory.journal import DailyJournal
from lakehouse_assets.core.settings import LakehouseSettings
from tests.fakes.llm_servers import Reply

ROSTER = b"worker_id,name,availability,shift\n1,Ann,available,night\n2,Bob,available,day\n3,Cy,available,night\n"


def fill(*ids: str, target: int = 2) -> str:
    return json.dumps(
        {"contract_id": "C-1", "target_count": target, "candidates": [{"worker_id": i, "reason": "fits"} for i in ids]}
    )


@pytest.fixture
def roster(make_roster) -> Roster:
    return make_roster(ROSTER)


@pytest.fixture
def chat(tmp_path, ollama) -> Iterator[ChatRouter]:
    settings = LakehouseSettings(
        home=tmp_path, ollama_host=ollama.url, chat_backoff_seconds=0.01, chat_retries=0, _env_file=None
    )
    router = chat_router_from_settings(settings)
    yield router
    router.close()


@pytest.fixture
def journal(tmp_path) -> DailyJournal:
    return DailyJournal(tmp_path / "journal" / "sessions")


def spec(**kw) -> IterateSpec:
    base = {"prompt": "Fill C-1 with 2 night-shift workers.", "kind": "fill", "model": "qwen3.5:latest"}
    return IterateSpec(**{**base, **kw, "context": kw.get("context", {"shift": "night"})})


def test_fails_twice_then_succeeds_with_the_feedback_in_the_next_prompt(chat, ollama, roster, journal):
    ollama.then(
        Reply(content="Sure! I'd pick Ann and a new hire."),  # no JSON at all
        Reply(content="```json\n" + fill("1", "99") + "\n```"),  # a phantom worker
        Reply(content="Here you go: " + fill("1", "3") + " Let me know!"),
    )
    outcome = run_iterate(spec(), chat=chat, roster=roster, journal=journal)

    assert outcome.accepted and outcome.verdict == "accepted"
    assert outcome.value["candidates"][1]["worker_id"] == "3"
    assert [a.verdict for a in outcome.attempts] == ["invalid_json", "rejected", "accepted"]
    assert outcome.attempts[1].error == {"Consistency": {"reason": "worker 99 is not in the roster"}}
    assert outcome.grounded_in_roster is True
    assert outcome.total_tokens == sum(a.prompt_tokens + a.completion_tokens for a in outcome.attempts) > 0

    # What the model saw: the second prompt carries the first error, the third the second.
    second, third = ollama.requests[1].messages, ollama.requests[2].messages
    assert second[-2] == {"role": "assistant", "content": "Sure! I'd pick Ann and a new hire."}
    assert "no JSON object in the reply" in second[-1]["content"]
    assert '{"Consistency": {"reason": "worker 99 is not in the roster"}}' in third[-1]["content"]
    assert outcome.attempts[1].prompt == second[-1]["content"]
    assert '"shift": "night"' in ollama.requests[0].messages[1]["content"]  # the context reaches the model

    [record] = journal.day(outcome.started_at[:10]).replay().records
    assert record["schema"] == SCHEMA and record["session_id"] == outcome.session_id
    assert record["kind"] == "fill" and record["model"] == "qwen3.5:latest" and record["verdict"] == "accepted"
    assert len(record["attempts"]) == 3 and record["total_tokens"] == outcome.total_tokens
    assert record["grounded_in_roster"] is True


def test_attempts_run_out(chat, ollama, roster, journal):
    ollama.then(*[Reply(content=fill("1", "2"))] * 2)  # worker 2 works days
    outcome = run_iterate(spec(max_iterations=2), chat=chat, roster=roster, journal=journal)
    assert not outcome.accepted and outcome.verdict == "max_iterations" and outcome.value is None
    assert len(outcome.attempts) == 2
    assert outcome.attempts[0].error == {"Consistency": {"reason": "worker 2 works the day shift, not night"}}
    assert outcome.grounded_in_roster is True  # wrong shift, but every id is real


def test_phantom_proposal_is_not_grounded(chat, ollama, roster, journal):
    ollama.then(Reply(content=fill("1", "404")))
    outcome = run_iterate(spec(max_iterations=1), chat=chat, roster=roster, journal=journal)
    assert not outcome.accepted and outcome.grounded_in_roster is False


def test_token_budget_stops_the_loop(chat, ollama, roster, journal):
    ollama.responder = lambda received: "no json here " * 20
    outcome = run_iterate(spec(max_iterations=10, token_budget=50), chat=chat, roster=roster, journal=journal)
    assert outcome.verdict == "token_budget" and not outcome.accepted
    assert len(outcome.attempts) < 10 and outcome.total_tokens >= 50
    assert len(ollama.requests) == len(outcome.attempts)


def test_other_kinds_are_not_roster_checked(chat, ollama, journal):
    ollama.then(Reply(content='{"to": "+13125550147", "body": "Shift at 7am tomorrow."}'))
    outcome = run_iterate(
        spec(kind="sms", prompt="Text worker 1 about tomorrow."), chat=chat, roster=None, journal=journal
    )
    assert outcome.accepted and outcome.validation == {"ok": True, "kind": "sms", "characters": 22}
    assert outcome.grounded_in_roster is None


def test_upstream_failure_is_journaled_then_raised(chat, ollama, roster, journal):
    ollama.then(Reply(status=500, error="model crashed"))
    with pytest.raises(UpstreamError):
        run_iterate(spec(session_id="trace-123"), chat=chat, roster=roster, journal=journal)
    [day] = journal.days()
    [record] = journal.day(day).replay().records
    assert record["session_id"] == "trace-123" and record["verdict"] == "infra_error"
    assert "model crashed" in record["error"] and record["attempts"] == []


def test_a_journal_that_cannot_take_the_record_does_not_hide_the_real_failure(chat, ollama, roster, journal):
    """Before: the journal write in `finally` raised over the session's own failure, so the caller saw the
    journal's error, not the upstream's."""
    ollama.then(Reply(status=500, error="model crashed"))

    def broken(*args, **kwargs):
        raise OSError("disk full")

    journal.append = broken
    with pytest.raises(UpstreamError, match="model crashed") as raised:
        run_iterate(spec(), chat=chat, roster=roster, journal=journal)
    assert any("could not be journaled" in note for note in raised.value.__notes__)
    ollama.then(Reply(content=fill("1", "3")))
    with pytest.raises(OSError, match="disk full"):  # with nothing else wrong, the journal's failure is the failure
        run_iterate(spec(), chat=chat, roster=roster, journal=journal)


@pytest.mark.parametrize(
    ("kw", "error"),
    [
        ({"kind": "tweet"}, UnknownKind),
        ({"prompt": "  "}, InvalidIterateRequest),
        ({"max_iterations": 0}, InvalidIterateRequest),
        ({"token_budget": 0}, InvalidIterateRequest),
        ({"session_id": "../../etc"}, InvalidIterateRequest),
    ],
)
def test_bad_requests_call_nothing_and_log_nothing(chat, ollama, roster, journal, kw, error):
    with pytest.raises(error):
        run_iterate(spec(**kw), chat=chat, roster=roster, journal=journal)
    assert ollama.requests == [] and journal.days() == []
