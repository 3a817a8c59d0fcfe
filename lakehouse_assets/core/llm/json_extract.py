"""Pulling the JSON object out of what a chat model wrote.

Models wrap answers in ```json fences, bare fences, or prose ("Here is the fill: {...} Let me
know"). `extract_json` returns the first JSON object found, in that order of preference; a top-level
array yields its first object. Text with no parseable object raises NoJson: for the iterate loop that
is an attempt that failed, with the reason fed back to the model.
"""

from __future__ import annotations

import json
import re
import sys
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


_DECODER = json.JSONDecoder()
# A bracket that can open a JSON value: `{` before a key or `}`, `[` before a value or `]`.
_OPENING = re.compile(r"\{(?=\s*[\"}])|\[(?=\s*[\[{\"\-0-9tfn\]])")
# How much a scan may cost, in multiples of the text's length: a reply of a few objects needs about one; a
# hostile one (a long run of brackets whose values never end) is cut off instead of costing O(n^2).
SCAN_BUDGET = 16


def _scan(text: str) -> dict[str, Any] | None:
    """The first {...} or [...] in free text that parses to an object (or array of objects).

    Each bracket that can open a value is tried with the decoder in place (it stops at the end of the value,
    or fails where the text stops being JSON), and what the tries cost is counted against a budget. A failure
    costs its absolute position: building the decoder's error counts the lines before it. Scanning to the
    matching bracket from every opening one, as before, was quadratic on a long run of brackets."""
    budget = SCAN_BUDGET * len(text) + 4096
    for match in _OPENING.finditer(text):
        start = match.start()
        try:
            value, end = _DECODER.raw_decode(text, start)
        except json.JSONDecodeError as e:
            budget -= e.pos + 1
        except RecursionError:  # nesting deeper than the decoder goes: no reply means that
            budget -= sys.getrecursionlimit()
        else:
            budget -= end - start
            found = _as_object(value)
            if found is not None:
                return found
        if budget < 0:
            return None
    return None


def extract_json(text: str) -> dict[str, Any]:
    """The JSON object a model meant to return. Raises NoJson saying what was wrong."""
    if not isinstance(text, str) or not text.strip():
        raise NoJson("the reply is empty")
    fences = _FENCE.findall(text)
    for _lang, body in sorted(fences, key=lambda f: f[0].lower() != "json"):  # ```json fences first
        try:
            found = _as_object(json.loads(body))
        except (json.JSONDecodeError, RecursionError):
            found = _scan(body)
        if found is not None:
            return found
    stripped = text.strip()
    try:
        found = _as_object(json.loads(stripped))
    except (json.JSONDecodeError, RecursionError):  # nested past the decoder's depth: not what a model meant
        found = _scan(stripped)
    if found is None:
        raise NoJson("no JSON object in the reply")
    return found
