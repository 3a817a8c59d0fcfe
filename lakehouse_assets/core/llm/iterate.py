"""The iterate loop: ask a model for a proposal, extract its JSON, validate it, and on failure ask again
with the validator's error as feedback, until it is accepted, the attempts run out or the token
budget is spent.

Every session, whatever its end, is one `session.iterate.v1` record in the daily session journal,
with `grounded_in_roster` stamped for fills: whether every worker id the model proposed exists in
the roster dataset, checked on its own, so an accepted fill that is not grounded (a validator
bypassed) shows up in the `iterate_sessions` asset check.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lakehouse_assets.core.errors import LakehouseError
from lakehouse_assets.core.llm.chat import ChatRequest, ChatRouter, Message
from lakehouse_assets.core.llm.json_extract import NoJson, extract_json
from lakehouse_assets.core.llm.validation import VALIDATORS, Roster, UnknownKind, ValidationFailed, validate
from lakehouse_assets.core.memory.journal import DailyJournal, utc_now

SCHEMA = "session.iterate.v1"
VERDICTS = ("accepted", "max_iterations", "token_budget", "infra_error")
MAX_ITERATIONS_CEILING = 10
_SESSION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

KIND_INSTRUCTIONS = {
    "fill": (
        "Propose workers for a staffing contract as one JSON object: "
        '{"contract_id": str, "target_count": int, "candidates": [{"worker_id": str, "reason": str}]}. '
        "Only propose workers that exist in the roster and are available for the shift."
    ),
    "email": 'Write the email as one JSON object: {"to": str, "subject": str, "body": str}. No placeholders.',
    "sms": 'Write the text message as one JSON object: {"to": str, "body": str}, the body at most 160 characters.',
    "playbook": (
        'Write the playbook as one JSON object: {"name": "fill: ...", "target_count": int, '
        '"endorsed_names": [str], "fingerprint": str}.'
    ),
}

log = logging.getLogger(__name__)


class InvalidIterateRequest(LakehouseError, ValueError):
    status = 400
    code = "invalid_request"


@dataclass(frozen=True)
class IterateSpec:
    prompt: str
    kind: str
    model: str | None = None
    tier: str | None = None
    fallbacks: tuple[str, ...] = ()
    context: Mapping[str, Any] | None = None
    max_iterations: int = 3
    token_budget: int | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    json_format: bool = False
    timeout: float | None = None
    system: str | None = None
    session_id: str | None = None

    def check(self) -> None:
        if self.kind not in VALIDATORS:
            raise UnknownKind(f"unknown kind {self.kind!r}; kinds: {', '.join(VALIDATORS)}")
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise InvalidIterateRequest("prompt is empty")
        if not 1 <= self.max_iterations <= MAX_ITERATIONS_CEILING:
            raise InvalidIterateRequest(f"max_iterations must be between 1 and {MAX_ITERATIONS_CEILING}")
        if self.token_budget is not None and self.token_budget < 1:
            raise InvalidIterateRequest("token_budget must be at least 1")
        if self.session_id is not None and not _SESSION_ID.match(self.session_id):
            raise InvalidIterateRequest("session_id must be 1-128 letters, digits or . _ : -")


@dataclass(frozen=True)
class Attempt:
    n: int
    prompt: str
    raw: str
    extracted: dict[str, Any] | None
    verdict: str  # accepted | invalid_json | rejected
    error: dict[str, Any] | None
    model: str
    provider: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "prompt": self.prompt,
            "raw": self.raw,
            "extracted": self.extracted,
            "verdict": self.verdict,
            "error": self.error,
            "model": self.model,
            "provider": self.provider,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "latency_ms": self.latency_ms,
        }


@dataclass
class IterateOutcome:
    session_id: str
    kind: str
    requested: str
    started_at: str
    accepted: bool = False
    value: dict[str, Any] | None = None
    validation: dict[str, Any] | None = None
    verdict: str = "max_iterations"
    attempts: list[Attempt] = field(default_factory=list)
    grounded_in_roster: bool | None = None
    error: str | None = None
    finished_at: str | None = None
    prompt: str = ""
    context: dict[str, Any] | None = None

    @property
    def prompt_tokens(self) -> int:
        return sum(a.prompt_tokens for a in self.attempts)

    @property
    def completion_tokens(self) -> int:
        return sum(a.completion_tokens for a in self.attempts)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def answered_by(self) -> str | None:
        return self.attempts[-1].model if self.attempts else None

    @property
    def provider(self) -> str | None:
        return self.attempts[-1].provider if self.attempts else None

    def to_json(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "kind": self.kind,
            "model": self.requested,
            "answered_by": self.answered_by,
            "provider": self.provider,
            "accepted": self.accepted,
            "verdict": self.verdict,
            "value": self.value,
            "validation": self.validation,
            "attempts": [a.to_json() for a in self.attempts],
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "grounded_in_roster": self.grounded_in_roster,
        }

    def session_record(self) -> dict[str, Any]:
        """The `session.iterate.v1` line for the session journal."""
        return {
            "schema": SCHEMA,
            **self.to_json(),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "latency_ms": round(sum(a.latency_ms for a in self.attempts), 2),
            "error": self.error,
            "prompt": self.prompt,
            "context": self.context,
        }


def feedback_for(kind: str, error: Mapping[str, Any]) -> str:
    """What the model is told after a failed attempt: the validator's own error, verbatim."""
    return (
        f"Your previous reply was rejected by the {kind} validator: {json.dumps(error, ensure_ascii=False)}. "
        "Fix exactly that and reply with one corrected JSON object only."
    )


def grounded_in_roster(kind: str, value: Mapping[str, Any] | None, roster: Roster | None) -> bool | None:
    """For a fill: does every proposed worker id exist in the roster? None when there is nothing to check."""
    if kind != "fill" or roster is None or not isinstance(value, Mapping):
        return None
    candidates = value.get("candidates")
    if not isinstance(candidates, list):
        return None
    ids = [str(c["worker_id"]) for c in candidates if isinstance(c, Mapping) and c.get("worker_id") not in (None, "")]
    if not ids:
        return None
    found = roster.lookup(ids)
    return all(i in found for i in ids)


def _messages(spec: IterateSpec) -> list[Message]:
    system = spec.system or KIND_INSTRUCTIONS[spec.kind]
    context = f"\n\nContext: {json.dumps(dict(spec.context), ensure_ascii=False)}" if spec.context else ""
    return [Message("system", system), Message("user", spec.prompt + context)]


def run_iterate(
    spec: IterateSpec,
    *,
    chat: ChatRouter,
    roster: Roster | None,
    journal: DailyJournal | None,
) -> IterateOutcome:
    """Run one session. Chat failures (and a missing roster) propagate after the session is journaled."""
    spec.check()
    started = datetime.now(UTC)
    outcome = IterateOutcome(
        session_id=spec.session_id or uuid.uuid4().hex,
        kind=spec.kind,
        requested=spec.model or spec.tier or "",
        started_at=utc_now(),
        prompt=spec.prompt,
        context=dict(spec.context) if spec.context else None,
    )
    messages = _messages(spec)
    failure: Exception | None = None
    try:
        for n in range(1, spec.max_iterations + 1):
            if spec.token_budget is not None and outcome.total_tokens >= spec.token_budget:
                outcome.verdict = "token_budget"
                break
            request = ChatRequest(
                tuple(messages),
                max_tokens=spec.max_tokens,
                temperature=spec.temperature,
                json_format=spec.json_format,
                timeout=spec.timeout,
            )
            t0 = time.perf_counter()
            reply = chat.chat(request, model=spec.model, tier=spec.tier, fallbacks=spec.fallbacks)
            latency = round((time.perf_counter() - t0) * 1000, 2)
            extracted: dict[str, Any] | None = None
            error: dict[str, Any] | None = None
            try:
                extracted = extract_json(reply.content)
                outcome.validation = validate(spec.kind, extracted, spec.context, roster=roster)
                verdict = "accepted"
            except NoJson as e:
                verdict, error = "invalid_json", {"Schema": {"field": "reply", "reason": str(e)}}
            except ValidationFailed as e:
                verdict, error = "rejected", e.to_json()
            outcome.attempts.append(
                Attempt(
                    n=n,
                    prompt=messages[-1].content,
                    raw=reply.content,
                    extracted=extracted,
                    verdict=verdict,
                    error=error,
                    model=reply.model,
                    provider=reply.provider,
                    prompt_tokens=reply.prompt_tokens,
                    completion_tokens=reply.completion_tokens,
                    latency_ms=latency,
                )
            )
            if verdict == "accepted":
                outcome.accepted, outcome.value, outcome.verdict = True, extracted, "accepted"
                break
            outcome.validation = None
            messages += [Message("assistant", reply.content), Message("user", feedback_for(spec.kind, error or {}))]
        last_value = next((a.extracted for a in reversed(outcome.attempts) if a.extracted is not None), None)
        outcome.grounded_in_roster = grounded_in_roster(spec.kind, last_value, roster)
    except Exception as e:
        outcome.verdict, outcome.error = "infra_error", f"{type(e).__name__}: {e}"
        failure = e
        raise
    finally:
        outcome.finished_at = utc_now()
        if journal is not None:
            try:
                journal.append([outcome.session_record()], day=started.date())
            except Exception as journal_error:
                if failure is None:
                    raise
                # the session's own failure is what the caller must see: a journal that cannot take the record
                # must not replace it
                log.exception("the iterate session %s could not be journaled", outcome.session_id)
                failure.add_note(f"(the session record could not be journaled: {type(journal_error).__name__})")
    return outcome
