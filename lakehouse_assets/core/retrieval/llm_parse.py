"""An LLM's proposal of constraints for the words the deterministic parser left unparsed, checked
against the vocabulary before anything is used.

The parser stays the default and the fallback: this runs only when asked and when a chat model is
configured, sees only the leftover words (with each field's known values), and every proposed
constraint must name a facet, an operator that facet takes, and a value the data has (through the
same aliases as the parser) or a number for a number field. Anything else is rejected with the
reason, and a failed or unreachable model leaves the parse as it was.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from lakehouse_assets.core.llm.chat.types import ChatError, ChatRequest, Message
from lakehouse_assets.core.llm.json_extract import NoJson, extract_json
from lakehouse_assets.core.retrieval.query_parse import Constraint, ParsedQuery
from lakehouse_assets.core.retrieval.vocabulary import Vocabulary

MAX_VALUES_SHOWN = 60
_KIND_OPS = {
    "category": ("eq", "ne", "in", "nin"),
    "list": ("contains", "not_contains"),
    "number": ("gt", "gte", "lt", "lte", "eq"),
}


@dataclass
class LlmProposal:
    model: str | None
    accepted: list[Constraint] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "accepted": [c.as_dict() for c in self.accepted],
            "rejected": self.rejected,
            "error": self.error,
        }


def prompt(query: str, unparsed: Sequence[str], vocab: Vocabulary) -> list[Message]:
    fields = []
    for f in vocab.facets:
        values = vocab.describe()[f.field][:MAX_VALUES_SHOWN]
        fields.append({"field": f.field, "kind": f.kind, "ops": list(_KIND_OPS[f.kind]), "values": values})
    system = (
        "You turn words of a staffing search into filters over known fields. Use only the fields, operators "
        "and values listed; never invent a value. If a phrase matches nothing, leave it out. Reply with JSON "
        'only: {"constraints": [{"field": "...", "op": "...", "value": ..., "phrase": "..."}]}.'
    )
    user = (
        f"Search: {query}\nPhrases to interpret: {json.dumps(list(unparsed))}\n"
        f"Fields: {json.dumps(fields, ensure_ascii=False)}"
    )
    return [Message("system", system), Message("user", user)]


def check(item: Any, vocab: Vocabulary) -> Constraint | str:
    """The proposed item as a constraint over `vocab`, or the reason it is refused."""
    if not isinstance(item, dict):
        return "not an object"
    name, op, value = item.get("field"), item.get("op"), item.get("value")
    facet = vocab.facet(name) if isinstance(name, str) else None
    if facet is None:
        return f"unknown field {name!r}"
    if op not in _KIND_OPS[facet.kind]:
        return f"{name} takes {', '.join(_KIND_OPS[facet.kind])}, not {op!r}"
    phrase = str(item.get("phrase") or value)
    if facet.kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"{name} needs a number, not {value!r}"
        lo, hi = vocab.ranges.get(name, (float("-inf"), float("inf")))
        if not lo - (hi - lo) <= value <= hi + (hi - lo):
            return f"{value} is far outside {name}'s range {lo:g}-{hi:g}"
        return Constraint(name, op, value, phrase, source="llm")
    values = value if op in ("in", "nin") else [value]
    if not isinstance(values, list) or not values:
        return f"{op} needs a list of values"
    canonical = []
    for v in values:
        found = vocab.canonical(name, str(v)) if isinstance(v, str | int | float) else None
        if found is None:
            return f"{v!r} is not a value of {name}"
        canonical.append(found)
    return Constraint(name, op, canonical if op in ("in", "nin") else canonical[0], phrase, source="llm")


def propose(
    chat: Any, query: str, unparsed: Sequence[str], vocab: Vocabulary, *, model: str | None, tier: str | None
) -> LlmProposal:
    """Ask the model (by name or tier) for constraints on `unparsed`; keep only those `check` accepts."""
    proposal = LlmProposal(model)
    try:
        result = chat.chat(
            ChatRequest(messages=tuple(prompt(query, unparsed, vocab)), json_format=True, temperature=0.0),
            model=model,
            tier=None if model else tier,  # a model named in settings wins over the tier
        )
        proposal.model = result.model
        items = extract_json(result.content).get("constraints", [])
    except (ChatError, NoJson) as e:
        proposal.error = str(e)
        return proposal
    if not isinstance(items, list):
        proposal.error = "the reply's constraints is not a list"
        return proposal
    for item in items:
        checked = check(item, vocab)
        if isinstance(checked, Constraint):
            proposal.accepted.append(checked)
        else:
            proposal.rejected.append({"proposed": item, "reason": checked})
    return proposal


def with_proposals(
    parsed: ParsedQuery, chat: Any | None, query: str, vocab: Vocabulary, *, model: str | None, tier: str | None
) -> ParsedQuery:
    """The parse with the model's accepted constraints on its unparsed words added (the parser's own win on a
    field both name), and what the model proposed beside it."""
    if chat is None:
        return replace(parsed, llm={"error": "no chat model is configured: the parse is the parser's alone"})
    proposal = propose(chat, query, parsed.unparsed, vocab, model=model, tier=tier)
    taken = {c.field for c in parsed.constraints}
    added = tuple(c for c in proposal.accepted if c.field not in taken)
    return replace(parsed, constraints=parsed.constraints + added, llm=proposal.as_dict())
