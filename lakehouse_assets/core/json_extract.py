"""Pulling the JSON object out of what a chat model wrote.

Models wrap answers in ```json fences, bare fences, or prose ("Here is the fill: {...} Let me
know"). `extract_json` returns the first JSON object found, in that order of preference; a top-level
array yields its first object. Text with no parseable object raises NoJson: for the iterate loop that
is an attempt that failed, with the reason fed back to the model.
"""

from __future__ import annotations

import json
import re
from typing import Any

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_-]*)[ \t]*\n?(.*?)```", re.S)


class NoJson(ValueError):
    pass


def _as_object(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return next((v for v in value if isinstance(v, dict)), None)
    return None


def _balanced(text: str, start: int) -> str | None:
    """The substring from the bracket at `start` to its matching close, ignoring brackets in strings."""
    opening = text[start]
    closing = "}" if opening == "{" else "]"
    depth, in_string, escaped = 0, False, False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == opening:
            depth += 1
        elif ch == closing:
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
    return None


def _scan(text: str) -> dict[str, Any] | None:
    """The first balanced {...} or [...] in free text that parses to an object (or array of objects)."""
    for match in re.finditer(r"[{\[]", text):
        candidate = _balanced(text, match.start())
        if candidate is None:
            continue
        try:
            found = _as_object(json.loads(candidate))
        except json.JSONDecodeError:
            continue
        if found is not None:
            return found
    return None


def extract_json(text: str) -> dict[str, Any]:
    """The JSON object a model meant to return. Raises NoJson saying what was wrong."""
    if not isinstance(text, str) or not text.strip():
        raise NoJson("the reply is empty")
    fences = _FENCE.findall(text)
    for _lang, body in sorted(fences, key=lambda f: f[0].lower() != "json"):  # ```json fences first
        try:
            found = _as_object(json.loads(body))
        except json.JSONDecodeError:
            found = _scan(body)
        if found is not None:
            return found
    stripped = text.strip()
    try:
        found = _as_object(json.loads(stripped))
    except json.JSONDecodeError:
        found = _scan(stripped)
    if found is None:
        raise NoJson("no JSON object in the reply")
    return found
