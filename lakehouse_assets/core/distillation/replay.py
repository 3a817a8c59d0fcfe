"""Replay: run past tasks again, with fresh retrieval, through today's models, and log what happened.

A task is an earlier iterate session (its prompt, kind and context). Replaying it retrieves the
best-matching workers from the corpus, adds them to the prompt, asks the chat router, extracts and
validates the answer, and appends one `replay.run.v1` record to the day's replay journal, which the
evidence assets read: the loop from runs to training evidence closes.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lakehouse_assets.core.distillation.evidence import REPLAY_SCHEMA
from lakehouse_assets.core.llm.chat import ChatRequest, ChatRouter, Message
from lakehouse_assets.core.llm.iterate import KIND_INSTRUCTIONS, grounded_in_roster
from lakehouse_assets.core.llm.json_extract import NoJson, extract_json
from lakehouse_assets.core.llm.validation import Roster, ValidationFailed, validate
from lakehouse_assets.core.memory.journal import DailyJournal, JsonlJournal, utc_now
from lakehouse_assets.core.retrieval.results import SearchRequest
from lakehouse_assets.core.retrieval.search import MatrixSearch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplayTask:
    task_id: str
    kind: str
    prompt: str
    context: Mapping[str, Any] | None = None


def past_tasks(sessions: JsonlJournal, limit: int) -> list[ReplayTask]:
    """Distinct prompts of a day's iterate sessions, oldest first (the first prompt, without feedback)."""
    tasks: dict[tuple[str, str], ReplayTask] = {}
    for record in sessions.replay().records:
        attempts = record.get("attempts") or []
        prompt = record.get("prompt") or (attempts[0].get("prompt") if attempts else None)
        kind = record.get("kind")
        if not isinstance(prompt, str) or not prompt.strip() or kind not in KIND_INSTRUCTIONS:
            continue
        tasks.setdefault((kind, prompt), ReplayTask(str(record.get("session_id")), kind, prompt, record.get("context")))
    return list(tasks.values())[:limit]


def retrieve_context(matrix: MatrixSearch | None, prompt: str, k: int) -> list[tuple[str, str]]:
    """(worker id, snippet) the corpus offers for the prompt; empty when search is unavailable."""
    if matrix is None or k < 1:
        return []
    try:
        result = matrix.search(SearchRequest(query=prompt, corpora=["workers"], k=k))
    except Exception as e:  # a missing index or a down store must not stop a replay run
        log.warning("retrieval failed, replaying without context: %s", e)
        return []
    return [(h.entity_id, h.snippet) for h in result.hits]


def _judge(task: ReplayTask, raw: str, roster: Roster | None) -> dict[str, Any]:
    """Extract and validate a reply: verdict, error, extracted value and grounding."""
    out: dict[str, Any] = {"extracted": None, "error": None, "grounded": None}
    try:
        out["extracted"] = extract_json(raw)
        validate(task.kind, out["extracted"], task.context, roster=roster)
        out["verdict"] = "accepted"
    except NoJson as e:
        out.update(verdict="invalid_json", error={"Schema": {"field": "reply", "reason": str(e)}})
    except ValidationFailed as e:
        out.update(verdict="rejected", error=e.to_json())
    except Exception as e:  # e.g. no roster dataset: the record says so instead of failing the run
        out.update(verdict="infra_error", error={"Infra": {"reason": f"{type(e).__name__}: {e}"}})
        return out
    out["grounded"] = grounded_in_roster(task.kind, out["extracted"], roster)
    return out


def replay_task(
    task: ReplayTask,
    *,
    chat: ChatRouter,
    roster: Roster | None,
    journal: DailyJournal,
    matrix: MatrixSearch | None = None,
    model: str | None = None,
    tier: str | None = None,
    k: int = 5,
    run_id: str | None = None,
) -> dict[str, Any]:
    """Replay one task; returns (and journals) its replay.run.v1 record. Chat errors are recorded, not raised."""
    context = retrieve_context(matrix, task.prompt, k)
    prompt = task.prompt
    if context:
        prompt += "\n\nCandidates from the roster:\n" + "\n".join(f"worker {i}: {snippet}" for i, snippet in context)
    record: dict[str, Any] = {
        "schema": REPLAY_SCHEMA,
        "run_id": run_id or uuid.uuid4().hex,
        "task_id": task.task_id,
        "kind": task.kind,
        "prompt": task.prompt,
        "context_ids": [worker_id for worker_id, _ in context],
        "started_at": utc_now(),
        "model": None,
        "provider": None,
        "raw": None,
        "extracted": None,
        "error": None,
        "tokens": 0,
        "latency_ms": None,
        "grounded": None,
    }
    messages: Sequence[Message] = (Message("system", KIND_INSTRUCTIONS[task.kind]), Message("user", prompt))
    started = time.perf_counter()
    try:
        reply = chat.chat(ChatRequest(tuple(messages)), model=model, tier=tier)
    except Exception as e:
        record.update(verdict="infra_error", error={"Infra": {"reason": f"{type(e).__name__}: {e}"}})
    else:
        record.update(model=reply.model, provider=reply.provider, raw=reply.content, tokens=reply.total_tokens)
        record.update(_judge(task, reply.content, roster))
    record["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    journal.append([record])
    return record
