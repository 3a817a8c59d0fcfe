"""Validators: each kind's pass and fail paths, the externally tagged error shape (pinned), and fills
checked against the real roster dataset (phantom ids rejected, refreshed on a new version)."""

from __future__ import annotations

import io

import pytest

from lakehouse_assets.core.ingest.csv import IngestLimits, ingest_csv
from lakehouse_assets.core.llm.validation import Roster, UnknownKind, ValidationFailed, validate

ROSTER = b"worker_id,name,availability,shift\n1,Ann,available,night\n2,Bob,available,day\n3,Cy,on_assignment,night\n"


@pytest.fixture
def roster(make_roster) -> Roster:
    return make_roster(ROSTER)


def fails(kind: str, payload, context=None, roster=None) -> dict:
    with pytest.raises(ValidationFailed) as e:
        validate(kind, payload, context, roster=roster)
    return e.value.to_json()


def fill(*ids, target=2, **extra) -> dict:
    return {
        "contract_id": "c-1",
        "target_count": target,
        "candidates": [{"worker_id": i, "reason": "fits"} for i in ids],
        **extra,
    }


def test_error_shape_is_externally_tagged():
    assert fails("email", {"subject": "s", "body": "b"}) == {"Schema": {"field": "to", "reason": "is required"}}
    assert fails("sms", {"to": "+13125550147", "body": ""}) == {"Completeness": {"reason": "body is empty"}}
    assert list(fails("sms", {"to": "+13125550147", "body": "x" * 161})) == ["Policy"]
    assert list(
        fails("playbook", {"name": "fill:x", "target_count": 1, "endorsed_names": ["a", "b", "c"], "fingerprint": "f"})
    ) == ["Consistency"]


def test_unknown_kind_and_non_object_payload():
    with pytest.raises(UnknownKind, match="unknown kind 'tweet'"):
        validate("tweet", {})
    assert fails("email", ["not", "an", "object"]) == {
        "Schema": {"field": "payload", "reason": "must be a JSON object"}
    }


@pytest.mark.parametrize(
    ("payload", "tag", "words"),
    [
        (
            {"to": "a@b.co", "subject": "Shift tomorrow", "body": "Call me at (312) 555-0147 or +1 312 555 0147."},
            None,
            "",
        ),
        ({"to": "a@b.co", "subject": "Hi {first_name}", "body": "x"}, "Completeness", "{first_name}"),
        ({"to": "a@b.co", "subject": "Hi", "body": "Dear [WORKER NAME],"}, "Completeness", "[WORKER NAME]"),
        ({"to": "a@b.co", "subject": "Hi", "body": "Start date: TBD"}, "Completeness", "TBD"),
        ({"to": "a@b.co", "subject": "Hi", "body": "SSN 123-45-6789 on file"}, "Policy", "SSN"),
        ({"to": "a@b.co", "subject": "Hi", "body": "SSN 123 45 6789"}, "Policy", "SSN"),
        ({"to": "not-an-address", "subject": "Hi", "body": "x"}, "Schema", "not an email"),
    ],
)
def test_email(payload, tag, words):
    if tag is None:
        assert validate("email", payload) == {"ok": True, "kind": "email"}
    else:
        err = fails("email", payload)
        assert list(err) == [tag] and words in err[tag]["reason"]


@pytest.mark.parametrize(
    ("to", "body", "tag"),
    [
        ("+13125550147", "Your shift starts at 7am. Reply 555-0147 to confirm.", None),
        ("(312) 555-0147", "Shift confirmed.", None),
        ("312-555-0147", "Shift confirmed.", None),
        ("555-0147", "x", "Schema"),
        ("+13125550147", "SSN 123-45-6789", "Policy"),
        ("+13125550147", "Hi {name}", "Completeness"),
    ],
)
def test_sms(to, body, tag):
    if tag is None:
        assert validate("sms", {"to": to, "body": body})["ok"] is True
    else:
        assert list(fails("sms", {"to": to, "body": body})) == [tag]


def test_playbook():
    ok = {
        "name": "fill:warehouse-nights",
        "target_count": 2,
        "endorsed_names": ["a", "b", "c", "d"],
        "fingerprint": "ab12",
    }
    assert validate("playbook", ok)["endorsed"] == 4
    assert fails("playbook", {**ok, "name": "warehouse"})["Schema"]["field"] == "name"
    assert fails("playbook", {**ok, "fingerprint": ""})["Schema"]["field"] == "fingerprint"
    assert fails("playbook", {**ok, "target_count": "2"})["Schema"]["field"] == "target_count"


def test_fill_passes_for_available_workers_on_the_shift(roster):
    assert validate("fill", fill(1, 2), roster=roster)["filled"] == 2
    assert validate("fill", fill(1), {"shift": "night"}, roster=roster)["ok"] is True


@pytest.mark.parametrize(
    ("payload", "context", "tag", "words"),
    [
        (fill(1, 99), None, "Consistency", "worker 99 is not in the roster"),
        (fill(1, 3), None, "Consistency", "worker 3 is on_assignment"),
        (fill(2), {"shift": "night"}, "Consistency", "day shift, not night"),
        (fill(1, 1), None, "Consistency", "more than once"),
        (fill(1, 2, target=1), None, "Consistency", "2 candidates for a target of 1"),
        ({"contract_id": "c-1", "target_count": 1, "candidates": []}, None, "Completeness", "no candidates"),
        ({"contract_id": "c-1", "target_count": 1, "candidates": [{"worker_id": 1}]}, None, "Schema", "reason"),
    ],
)
def test_fill_failures(roster, payload, context, tag, words):
    err = fails("fill", payload, context, roster=roster)
    assert list(err) == [tag]
    assert words in (err[tag].get("field", "") + err[tag]["reason"])


def test_fill_sees_a_new_roster_version(roster, settings, lake, catalog):
    assert list(fails("fill", fill(4), roster=roster)) == ["Consistency"]
    ingest_csv(
        io.BytesIO(ROSTER + b"4,Di,available,day\n"), "workers", lake=lake,
        limits=IngestLimits(),
    )  # fmt: skip
    assert validate("fill", fill(4), roster=roster)["ok"] is True


def test_a_flood_of_candidates_is_refused_before_any_check(make_roster):
    """Before: no bound, and duplicates were found with `ids.count(i)` per id: a 16 MB body of candidates cost
    tens of minutes of CPU. Now the count is bounded (a setting) and every check is one pass."""
    roster = make_roster(ROSTER)
    err = fails("fill", fill(*range(5000), target=5000), roster=roster)
    assert err == {"Schema": {"field": "candidates", "reason": "5000 proposed; a fill may propose at most 1000"}}
    small = make_roster(ROSTER)
    small.max_candidates = 2
    assert list(fails("fill", fill(1, 2, 3, target=3), roster=small)) == ["Schema"]
    assert validate("fill", fill(1, 2), roster=small)["filled"] == 2
    # the duplicate is found at its first repeat, however long the list
    assert (
        "worker 7 is proposed more than once"
        in fails("fill", fill(7, *range(8, 900), 7, target=900))["Consistency"]["reason"]
    )
    assert fails("fill", fill({"a": 1}))["Schema"]["field"] == "candidates[0].worker_id"
