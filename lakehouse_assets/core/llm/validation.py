"""Validators for what an LLM proposes before anyone acts on it: a fill (workers for a contract), an
email, an SMS, a playbook entry.

A failure is one externally tagged error, the shape callers rely on (DESIGN.md, Contracts):
`{"Schema": {"field", "reason"}}`, `{"Completeness": {"reason"}}`, `{"Consistency": {"reason"}}` or
`{"Policy": {"reason"}}`. A fill is checked against the roster dataset itself, so a worker id the
model made up is rejected structurally, not by judgement.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from lakehouse_assets.core.errors import LakehouseError
from lakehouse_assets.core.lake.handle import Lake

# SSN-like: 3-2-4 digits with dashes or spaces, not part of a longer number. Phone numbers are
# 3-3-4 (and E.164 is one run of digits), so they never match.
_SSN = re.compile(r"(?<![\d-])\d{3}[- ]\d{2}[- ]\d{4}(?![\d-])")
_PLACEHOLDER = re.compile(
    r"\{\{[^}]*\}\}|\{[A-Za-z_][A-Za-z0-9_]*\}|\[(?:[A-Z][A-Z _]+)\]|<[A-Z][A-Z_ ]+>|\bXX+\b|\bTBD\b"
)
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_NATIONAL = re.compile(r"^(\(\d{3}\)\s?|\d{3}[-. ]?)\d{3}[-. ]?\d{4}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SMS_MAX = 160


class ValidationFailed(LakehouseError):
    """One externally tagged error: `{tag: {...}}`."""

    status = 422
    code = "validation_failed"

    def body(self) -> dict[str, Any]:
        return self.to_json()  # externally tagged, as the validators' contract says

    def __init__(self, tag: str, reason: str, field: str | None = None) -> None:
        self.tag, self.reason, self.field = tag, reason, field
        super().__init__(f"{tag}: {field + ': ' if field else ''}{reason}")

    def to_json(self) -> dict[str, dict[str, str]]:
        body = {"field": self.field, "reason": self.reason} if self.field is not None else {"reason": self.reason}
        return {self.tag: body}


class UnknownKind(LakehouseError, ValueError):
    status = 400
    code = "unknown_kind"


def _schema(field: str, reason: str) -> ValidationFailed:
    return ValidationFailed("Schema", reason, field)


def _require(payload: Mapping[str, Any], field: str, kind: type | tuple[type, ...]) -> Any:
    if field not in payload or payload[field] is None:
        raise _schema(field, "is required")
    value = payload[field]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise _schema(field, f"must be {names}, not {type(value).__name__}")
    return value


def _guard_ssn(field: str, text: str) -> None:
    if _SSN.search(text):
        raise ValidationFailed("Policy", f"{field} contains an SSN-like number; never send one")


# -- email and sms ------------------------------------------------------------------------


def validate_email(payload: Mapping[str, Any], context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    to = _require(payload, "to", str)
    subject = _require(payload, "subject", str)
    body = _require(payload, "body", str)
    if not _EMAIL.match(to.strip()):
        raise _schema("to", f"{to!r} is not an email address")
    for field, text in (("subject", subject), ("body", body)):
        if not text.strip():
            raise ValidationFailed("Completeness", f"{field} is empty")
        placeholder = _PLACEHOLDER.search(text)
        if placeholder:
            raise ValidationFailed("Completeness", f"{field} has an unfilled placeholder {placeholder.group(0)!r}")
        _guard_ssn(field, text)
    return {"ok": True, "kind": "email"}


def validate_sms(payload: Mapping[str, Any], context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    to = _require(payload, "to", str).strip()
    body = _require(payload, "body", str)
    if not (_E164.match(to) or _NATIONAL.match(to)):
        raise _schema("to", f"{to!r} is not a phone number in E.164 (+13125550147) or national form")
    if not body.strip():
        raise ValidationFailed("Completeness", "body is empty")
    if len(body) > SMS_MAX:
        raise ValidationFailed("Policy", f"body is {len(body)} characters; an SMS holds at most {SMS_MAX}")
    placeholder = _PLACEHOLDER.search(body)
    if placeholder:
        raise ValidationFailed("Completeness", f"body has an unfilled placeholder {placeholder.group(0)!r}")
    _guard_ssn("body", body)
    return {"ok": True, "kind": "sms", "characters": len(body)}


# -- playbook -----------------------------------------------------------------------------


def validate_playbook(payload: Mapping[str, Any], context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    name = _require(payload, "name", str)
    if not name.startswith("fill:"):
        raise _schema("name", f"{name!r} must start with 'fill:'")
    target = _require(payload, "target_count", int)
    if target < 1:
        raise _schema("target_count", "must be at least 1")
    endorsed = _require(payload, "endorsed_names", list)
    if len(endorsed) > 2 * target:
        raise ValidationFailed(
            "Consistency", f"{len(endorsed)} endorsed names for a target of {target}: at most {2 * target}"
        )
    fingerprint = payload.get("fingerprint")
    if not isinstance(fingerprint, str) or not fingerprint.strip():
        raise _schema("fingerprint", "is required")
    return {"ok": True, "kind": "playbook", "endorsed": len(endorsed)}


# -- fill ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RosterEntry:
    worker_id: str
    availability: str | None
    shift: str | None


# A fill names the workers of one contract: past this many candidates it is not a proposal but a flood.
MAX_FILL_CANDIDATES = 1000


class Roster:
    """Worker lookups against the roster dataset in the catalog, reloaded when a new version lands."""

    def __init__(
        self,
        lake: Lake,
        dataset: str = "workers",
        *,
        refresh_seconds: float = 0.0,
        max_candidates: int = MAX_FILL_CANDIDATES,
    ) -> None:
        """`refresh_seconds`: how long a listing of the catalog answers for a new roster version;
        `max_candidates`: the most candidates a fill checked against it may propose."""
        self.lake, self.catalog, self.dataset = lake, lake.catalog, dataset
        self.refresh_seconds, self.max_candidates = refresh_seconds, max_candidates
        self._lock = threading.Lock()
        self._key: str | None = None
        self._entries: dict[str, RosterEntry] = {}

    def _load(self) -> dict[str, RosterEntry]:
        self.catalog.refresh(max_age=self.refresh_seconds)
        if self.catalog.find(self.dataset) is None:
            self.catalog.refresh()  # a miss looks again: the roster may have landed since the last listing
        manifest = self.catalog.get(self.dataset)
        with self._lock:
            if self._key == manifest.object_key:
                return self._entries
        conn = duckdb.connect()
        try:
            self.lake.mount(conn, "roster", manifest.data_files)
            rows = conn.execute(
                "SELECT CAST(worker_id AS VARCHAR), CAST(availability AS VARCHAR), CAST(shift AS VARCHAR) FROM roster"
            ).fetchall()
        finally:
            conn.close()
        entries = {r[0]: RosterEntry(r[0], r[1], r[2]) for r in rows}
        with self._lock:
            self._key, self._entries = manifest.object_key, entries
        return entries

    def lookup(self, ids: Sequence[str]) -> dict[str, RosterEntry]:
        entries = self._load()
        return {i: entries[i] for i in ids if i in entries}


def validate_fill(
    payload: Mapping[str, Any], context: Mapping[str, Any] | None = None, *, roster: Roster | None = None
) -> dict[str, Any]:
    contract = _require(payload, "contract_id", str)
    target = _require(payload, "target_count", int)
    if target < 1:
        raise _schema("target_count", "must be at least 1")
    candidates = _require(payload, "candidates", list)
    if not candidates:
        raise ValidationFailed("Completeness", f"no candidates proposed for contract {contract}")
    limit = roster.max_candidates if roster is not None else MAX_FILL_CANDIDATES
    if len(candidates) > limit:
        raise _schema("candidates", f"{len(candidates)} proposed; a fill may propose at most {limit}")
    ids: list[str] = []
    seen: set[str] = set()
    for i, c in enumerate(candidates):  # one pass: every check is linear in the candidates
        if not isinstance(c, Mapping) or c.get("worker_id") in (None, "") or isinstance(c["worker_id"], dict | list):
            raise _schema(f"candidates[{i}].worker_id", "is required (a string or a number)")
        if not isinstance(c.get("reason"), str) or not c["reason"].strip():
            raise _schema(f"candidates[{i}].reason", "is required: say why this worker fits")
        worker = str(c["worker_id"])
        if worker in seen:
            raise ValidationFailed("Consistency", f"worker {worker} is proposed more than once")
        seen.add(worker)
        ids.append(worker)
    if len(ids) > target:
        raise ValidationFailed("Consistency", f"{len(ids)} candidates for a target of {target}")
    if roster is None:
        raise ValidationFailed("Completeness", "no roster dataset to check the candidates against")
    found = roster.lookup(ids)
    phantom = [i for i in ids if i not in found]
    if phantom:
        raise ValidationFailed("Consistency", f"worker {phantom[0]} is not in the roster")
    shift = (context or {}).get("shift") or payload.get("shift")
    for i in ids:
        entry = found[i]
        if entry.availability != "available":
            raise ValidationFailed("Consistency", f"worker {i} is {entry.availability}, not available")
        if shift and entry.shift != shift:
            raise ValidationFailed("Consistency", f"worker {i} works the {entry.shift} shift, not {shift}")
    return {"ok": True, "kind": "fill", "contract_id": contract, "filled": len(ids), "target_count": target}


Validator = Callable[..., dict[str, Any]]
VALIDATORS: dict[str, Validator] = {
    "fill": validate_fill,
    "email": validate_email,
    "sms": validate_sms,
    "playbook": validate_playbook,
}


def validate(
    kind: str, payload: Any, context: Mapping[str, Any] | None = None, *, roster: Roster | None = None
) -> dict[str, Any]:
    """Run the validator for `kind`. Raises UnknownKind, or ValidationFailed with the tagged error."""
    if kind not in VALIDATORS:
        raise UnknownKind(f"unknown kind {kind!r}; kinds: {', '.join(VALIDATORS)}")
    if not isinstance(payload, Mapping):
        raise _schema("payload", "must be a JSON object")
    if kind == "fill":
        return validate_fill(payload, context, roster=roster)
    return VALIDATORS[kind](payload, context)
