"""JSON extraction from model replies: table-driven over the shapes models produce."""

from __future__ import annotations

import pytest

from lakehouse_assets.core.llm.json_extract import NoJson, extract_json

CASES = [
    ("fenced json", 'Here you go:\n```json\n{"a": 1}\n```\nThanks', {"a": 1}),
    ("bare fence", '```\n{"a": 2}\n```', {"a": 2}),
    ("fence with other language first", '```python\nx = {"no": 1}\n```\n```json\n{"a": 3}\n```', {"a": 3}),
    ("plain object", '{"a": 4}', {"a": 4}),
    ("object in prose", 'The fill is {"contract_id": "c-1", "n": 2} as requested.', {"contract_id": "c-1", "n": 2}),
    ("nested objects", 'x {"a": {"b": {"c": [1, {"d": 2}]}}} y', {"a": {"b": {"c": [1, {"d": 2}]}}}),
    (
        "braces inside strings",
        'ok {"text": "use {name} and } here", "k": 1}',
        {"text": "use {name} and } here", "k": 1},
    ),
    ("escaped quotes", r'{"quote": "she said \"hi\" {"}', {"quote": 'she said "hi" {'}),
    ("unicode", '{"name": "Zoë Łukasz 李", "emoji": "✅"}', {"name": "Zoë Łukasz 李", "emoji": "✅"}),
    ("top-level array yields its first object", '[{"a": 5}, {"a": 6}]', {"a": 5}),
    ("array in a fence", '```json\n[{"a": 7}]\n```', {"a": 7}),
    ("prose braces before the object", 'Set {x} first. Answer: {"a": 8}', {"a": 8}),
    ("first object wins", 'one {"a": 9} two {"a": 10}', {"a": 9}),
    ("broken fence falls back to scanning it", '```json\nresult: {"a": 11}\n```', {"a": 11}),
]


@pytest.mark.parametrize(("case", "text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_extracts_the_object(case, text, expected):
    assert extract_json(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("no json here", "no JSON object"),
        ('{"a": 1', "no JSON object"),  # truncated
        ("{'a': 1}", "no JSON object"),  # Python, not JSON
        ("[1, 2, 3]", "no JSON object"),  # an array without objects
    ],
)
def test_no_object_is_an_error_saying_why(text, reason):
    with pytest.raises(NoJson, match=reason):
        extract_json(text)


@pytest.mark.parametrize(
    "junk",
    [
        "[" * 200_000,  # before: every bracket scanned to the end of the text, ~2e10 steps
        "{" * 200_000,
        '["' * 100_000,
        "[1," * 100_000,
    ],
)
def test_long_runs_of_brackets_cost_linear_time(junk):
    with pytest.raises(NoJson):
        extract_json(junk)
    assert extract_json("{" * 5000 + ' then {"ok": true}') == {"ok": True}  # cheap failures do not stop the scan
