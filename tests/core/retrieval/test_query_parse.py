"""Plain-words staffing queries -> constraints over a vocabulary learned from the data (no model involved)."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from lakehouse_assets.core.retrieval.corpora import WORKERS
from lakehouse_assets.core.retrieval.exceptions import ConstraintError
from lakehouse_assets.core.retrieval.facet_frame import FacetFrame, build_frame
from lakehouse_assets.core.retrieval.query_parse import Constraint, parse_query
from lakehouse_assets.core.retrieval.vocabulary import Facet, aliases_of, learn_vocabulary
from lakehouse_assets.core.sample.generate import generate_workers


@pytest.fixture(scope="module")
def frame() -> FacetFrame:
    conn = duckdb.connect()
    conn.register("workers", generate_workers(3000))
    return build_frame(conn, WORKERS.sql, WORKERS.facet_sql, WORKERS.facets, "v1")


def constraints(text: str, frame: FacetFrame) -> set[tuple]:
    return {
        (c.field, c.op, tuple(c.value) if isinstance(c.value, list) else c.value)
        for c in parse_query(text, frame.vocab).constraints
    }


@pytest.mark.parametrize(
    ("query", "expected", "semantic"),
    [
        ("night shift forklift operator in Illinois",
         {("shift", "eq", "night"), ("role", "eq", "forklift operator"), ("state", "eq", "IL")}, "forklift operator"),
        ("welder in Ohio with at least 10 years",
         {("role", "eq", "welder"), ("state", "eq", "OH"), ("years_experience", "gte", 10)}, "welder"),
        ("Spanish-speaking material handler, day shift",
         {("languages", "contains", "Spanish"), ("role", "eq", "material handler"), ("shift", "eq", "day")},
         "material handler"),
        ("electrician under $30 an hour", {("role", "eq", "electrician"), ("hourly_rate", "lt", 30)}, "electrician"),
        ("RN in Ohio, not on nights",
         {("role", "eq", "registered nurse"), ("state", "eq", "OH"), ("shift", "ne", "night")}, "registered nurse"),
        ("CNA between 18 and 22 dollars an hour",
         {("role", "eq", "certified nursing assistant"), ("hourly_rate", "gte", 18), ("hourly_rate", "lte", 22)},
         "certified nursing assistant"),
        ("electrician with 15+ years", {("role", "eq", "electrician"), ("years_experience", "gte", 15)}, "electrician"),
        ("forklift operators in Chicago or Joliet",
         {("role", "eq", "forklift operator"), ("city", "in", ("Chicago", "Joliet"))}, "forklift operators"),
        ("CDL A driver", {("certifications", "contains", "CDL Class A")}, "CDL Class A driver"),
        ("maintenance technician with OSHA 30 and 3 years",
         {("role", "eq", "maintenance technician"), ("certifications", "contains", "OSHA 30"),
          ("years_experience", "gte", 3)}, "maintenance technician OSHA 30"),
        ("machine operator without forklift certification",
         {("role", "eq", "machine operator"), ("certifications", "not_contains", "forklift certification")},
         "machine operator"),
        ("material handler on assignment",
         {("role", "eq", "material handler"), ("availability", "eq", "on_assignment")}, "material handler"),
    ],
)  # fmt: skip
def test_queries_become_constraints_and_a_semantic_rest(frame, query, expected, semantic):
    parsed = parse_query(query, frame.vocab)
    assert constraints(query, frame) == expected
    assert parsed.semantic == semantic


def test_two_letter_codes_only_match_in_capitals(frame):
    assert ("state", "eq", "IN") in constraints("welder in IN", frame)
    assert not any(
        c[0] == "state" for c in constraints("welder in Ohio or in general", frame) - {("state", "eq", "OH")}
    )
    assert constraints("machine operator in Kansas City, MO", frame) == {
        ("role", "eq", "machine operator"),
        ("city", "eq", "Kansas City"),
        ("state", "eq", "MO"),
    }  # fmt: skip  ("MO" is Missouri here, not the initials of "machine operator")


def test_a_figure_inside_a_known_phrase_is_not_a_number(frame):
    got = constraints("OSHA 30 electrician with 5 years", frame)
    assert ("certifications", "contains", "OSHA 30") in got and ("years_experience", "gte", 5) in got
    assert not any(c[0] == "years_experience" and c[2] == 30 for c in got)


def test_words_nobody_knows_are_unparsed_and_stay_in_the_semantic_text(frame):
    parsed = parse_query("dental hygienist", frame.vocab)
    assert parsed.constraints == () and parsed.unparsed == ("dental hygienist",)
    assert parsed.semantic == "dental hygienist"
    parsed = parse_query("bilingual CNA for home care", frame.vocab)
    assert parsed.unparsed == ("bilingual", "home care")


def test_constraints_are_exact_over_the_frame(frame):
    mask = frame.mask(parse_query("welder in Ohio with at least 10 years, not on nights", frame.vocab).constraints)
    conn = duckdb.connect()
    conn.register("workers", generate_workers(3000))
    truth = {
        r[0]
        for r in conn.sql(
            "SELECT CAST(worker_id AS VARCHAR) FROM workers "
            "WHERE role = 'welder' AND state = 'OH' AND years_experience >= 10 AND shift <> 'night'"
        ).fetchall()
    }
    assert set(frame.entity_ids[mask]) == truth and truth


def test_the_vocabulary_follows_the_data_not_a_list():
    """A different roster: its own values and aliases, no code change."""
    table = pa.table(
        {
            "id": ["a", "b", "c"],
            "entity_id": ["1", "2", "3"],
            "trade": ["pastry chef", "sous chef", "pastry chef"],
            "licences": ["Food Hygiene Level 2;HACCP", "", "HACCP"],
            "region": ["Yorkshire", "Kent", "Kent"],
            "wage": [14.5, 19.0, 16.0],
        }
    )
    facets = (
        Facet("trade", "category", semantic=True),
        Facet("licences", "list"),
        Facet("region", "category"),
        Facet("wage", "number", units=("£", "pound", "pounds", "hour")),
    )
    conn = duckdb.connect()
    conn.register("roster", table)
    vocab = learn_vocabulary(conn, "roster", facets)
    frame = FacetFrame.from_table(table, facets, vocab, "v")
    parsed = parse_query("pastry chefs in Kent with HACCP under 18 pounds an hour", vocab)
    assert {(c.field, c.op, c.value) for c in parsed.constraints} == {
        ("trade", "eq", "pastry chef"), ("region", "eq", "Kent"), ("licences", "contains", "HACCP"), ("wage", "lt", 18),
    }  # fmt: skip
    assert list(frame.entity_ids[frame.mask(parsed.constraints)]) == ["3"]
    assert vocab.values["licences"] == {"Food Hygiene Level 2": 1, "HACCP": 2}


def test_aliases_are_derived_by_rules():
    cert = Facet("certifications", "list")
    assert {"CPT", "phlebotomy certified", "phlebotomy certification"} <= aliases_of(
        "phlebotomy certification (CPT)", cert
    )
    assert {"CPR", "First Aid"} <= aliases_of("CPR/First Aid", cert)
    assert "CDL A" in aliases_of("CDL Class A", cert)
    assert "forklift" not in aliases_of("forklift certification", cert)  # one plain word is too loose
    assert "LPN" in aliases_of("licensed practical nurse", Facet("role", "category"))
    assert "ohio" in aliases_of("OH", Facet("state", "category"))


def test_constraints_the_field_cannot_take_are_errors_naming_it(frame):
    with pytest.raises(ConstraintError, match="category"):
        frame.satisfies(Constraint("state", "gte", 3, "x"))
    with pytest.raises(ConstraintError, match="unknown field 'shoe_size'"):
        frame.satisfies(Constraint("shoe_size", "eq", 9, "x"))
    with pytest.raises(ConstraintError, match="number"):
        frame.satisfies(Constraint("hourly_rate", "contains", 9, "x"))
