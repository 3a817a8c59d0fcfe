"""The synthetic staffing sample: deterministic, well-formed, realistic, and a valid RFC 4180 CSV."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from lakehouse_assets.core.sample import generate as sample
from lakehouse_assets.core.sample.generate import (
    AVAILABILITY,
    COLUMNS,
    MAX_ROWS,
    MIN_ROWS,
    SHIFTS,
    generate_workers,
    write_workers_csv,
)
from lakehouse_assets.core.sample.roster_data import CITIES, ROLES

ROWS = 3_000
ROLE_BY_NAME = {r.name: r for r in ROLES}
STATE_OF_CITY = {c.name: c.state for c in CITIES}
AREA_CODES_OF_CITY = {c.name: set(c.area_codes) for c in CITIES}


@pytest.fixture(scope="module")
def workers() -> list[dict]:
    return generate_workers(ROWS, seed=7).to_pylist()


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sample") / "workers.csv"
    write_workers_csv(path, ROWS, seed=7)
    return path


def _split(value: str | None) -> list[str]:
    return value.split(";") if value else []


# -- determinism ---------------------------------------------------------------------------------------


def test_same_rows_and_seed_write_byte_identical_csv(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    size_a = write_workers_csv(a, 2_000, seed=11)
    size_b = write_workers_csv(b, 2_000, seed=11)
    assert size_a == size_b == a.stat().st_size
    assert a.read_bytes() == b.read_bytes()


def test_different_seed_gives_different_data(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    write_workers_csv(a, 1_000, seed=1)
    write_workers_csv(b, 1_000, seed=2)
    assert a.read_bytes() != b.read_bytes()
    assert not generate_workers(1_000, seed=1)["name"].equals(generate_workers(1_000, seed=2)["name"])


def test_smaller_sample_is_a_prefix_of_a_larger_one_with_the_same_seed() -> None:
    small = generate_workers(1_500, seed=3)
    large = generate_workers(4_000, seed=3)
    assert large.slice(0, 1_500).equals(small)


def test_batch_size_does_not_change_the_table_or_the_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    whole_table = generate_workers(5_000, seed=4)
    whole_csv = tmp_path / "whole.csv"
    write_workers_csv(whole_csv, 5_000, seed=4)
    monkeypatch.setattr(sample, "_BATCH", 2_000)  # batches of 2,000, 2,000 and 1,000 rows
    batched_csv = tmp_path / "batched.csv"
    write_workers_csv(batched_csv, 5_000, seed=4)
    assert generate_workers(5_000, seed=4).equals(whole_table)
    assert batched_csv.read_bytes() == whole_csv.read_bytes()


# -- shape -----------------------------------------------------------------------------------------------


def test_table_has_requested_rows_columns_in_order_and_ids_one_to_n() -> None:
    table = generate_workers(ROWS, seed=7)
    assert table.num_rows == ROWS
    assert table.column_names == list(COLUMNS)
    assert COLUMNS[0] == "worker_id" and COLUMNS[-1] == "resume_text"
    assert table["worker_id"].to_pylist() == list(range(1, ROWS + 1))
    assert pa.types.is_integer(table.schema.field("years_experience").type)
    assert pa.types.is_floating(table.schema.field("hourly_rate").type)


def test_csv_has_header_in_column_order_and_one_record_per_row(csv_path: Path) -> None:
    with open(csv_path, newline="", encoding="utf-8") as f:
        records = list(csv.reader(f))
    assert records[0] == list(COLUMNS)
    assert len(records) == ROWS + 1
    assert all(len(r) == len(COLUMNS) for r in records)


# -- value domains ---------------------------------------------------------------------------------------


def test_categorical_columns_stay_in_their_domains(workers: list[dict]) -> None:
    assert {w["availability"] for w in workers} == set(AVAILABILITY)
    assert {w["shift"] for w in workers} == set(SHIFTS)
    assert {w["role"] for w in workers} <= set(ROLE_BY_NAME)
    assert len({w["role"] for w in workers}) == len(ROLES)  # 3,000 rows reach every role
    assert all(re.fullmatch(r"[A-Z]{2}", w["state"]) for w in workers)
    assert {w["state"] for w in workers} <= {c.state for c in CITIES}


def test_years_in_range_and_rates_positive_with_at_most_two_decimals(workers: list[dict]) -> None:
    assert all(0 <= w["years_experience"] <= 40 for w in workers)
    assert {w["years_experience"] for w in workers} >= {0, 1, 10, 20}
    for w in workers:
        rate = w["hourly_rate"]
        assert rate > 0
        assert round(rate, 2) == rate


def test_hourly_rate_depends_on_role_and_experience(workers: list[dict]) -> None:
    def mean_rate(rows: list[dict]) -> float:
        return sum(w["hourly_rate"] for w in rows) / len(rows)

    nurses = [w for w in workers if w["role"] == "registered nurse"]
    packers = [w for w in workers if w["role"] == "picker packer"]
    assert mean_rate(nurses) > mean_rate(packers) + 15
    junior = [w for w in nurses if w["years_experience"] <= 3]
    senior = [w for w in nurses if w["years_experience"] >= 15]
    assert mean_rate(senior) > mean_rate(junior) + 5


def test_every_city_belongs_to_its_state_and_phone_uses_a_local_area_code(workers: list[dict]) -> None:
    for w in workers:
        assert STATE_OF_CITY[w["city"]] == w["state"], w
        assert w["phone"][1:4] in AREA_CODES_OF_CITY[w["city"]], w
    assert len({c.state for c in CITIES}) >= 15 and len(CITIES) >= 40


def test_skills_and_certifications_fit_the_role(workers: list[dict]) -> None:
    for w in workers:
        role = ROLE_BY_NAME[w["role"]]
        skills, certs = _split(w["skills"]), _split(w["certifications"])
        assert 2 <= len(skills) <= 5 and len(set(skills)) == len(skills)
        assert set(skills) <= set(role.skills), w
        assert 0 <= len(certs) <= 3 and len(set(certs)) == len(certs)
        assert set(certs) <= set(role.certs), w
        if role.licensed:
            assert role.certs[0] in certs, w


def test_workers_without_certifications_are_null_in_table_and_empty_in_csv(workers: list[dict], csv_path: Path) -> None:
    without = [i for i, w in enumerate(workers) if w["certifications"] is None]
    assert 0 < len(without) < len(workers)
    assert not any(w["certifications"] == "" for w in workers)
    with open(csv_path, newline="", encoding="utf-8") as f:
        records = list(csv.reader(f))[1:]
    column = COLUMNS.index("certifications")
    assert [i for i, r in enumerate(records) if r[column] == ""] == without


def test_languages_are_mostly_english_with_others_sometimes(workers: list[dict]) -> None:
    spoken = [_split(w["languages"]) for w in workers]
    assert all(1 <= len(langs) <= 3 and len(set(langs)) == len(langs) for langs in spoken)
    english = sum("English" in langs for langs in spoken)
    assert 0.85 * ROWS < english < ROWS  # most, not all
    others = Counter(lang for langs in spoken for lang in langs if lang != "English")
    assert others.most_common(1)[0][0] == "Spanish"
    assert len(others) >= 5


def test_phone_numbers_are_formatted_and_never_bare_digits(workers: list[dict]) -> None:
    for w in workers:
        assert re.fullmatch(r"\(\d{3}\) 555-01\d{2}", w["phone"]), w["phone"]
        assert not w["phone"].isdigit()


def test_emails_are_lowercase_and_derived_from_name_and_worker_id(workers: list[dict]) -> None:
    for w in workers:
        email = w["email"]
        assert email == email.lower()
        local, domain = email.split("@")
        first, last = (re.sub(r"[^a-z]", "", part.lower()) for part in w["name"].split(" ", 1))
        assert local == f"{first}.{last}{w['worker_id']}"
        assert domain.startswith("example.")
    assert len({w["email"] for w in workers}) == len(workers)


def test_no_role_skill_or_certification_is_dental(workers: list[dict]) -> None:
    vocabulary = [r.name for r in ROLES] + [s for r in ROLES for s in r.skills + r.certs]
    assert not any(re.search(r"dental|dentist|hygienist", v, re.I) for v in vocabulary)
    assert not any(re.search(r"dental|hygienist", w["resume_text"], re.I) for w in workers)


# -- resume text ----------------------------------------------------------------------------------------


def test_resume_mentions_role_years_skills_certifications_and_city(workers: list[dict]) -> None:
    for w in workers:
        text = w["resume_text"]
        assert "," in text
        assert w["role"].lower() in text.lower()
        assert f"{w['city']}, {w['state']}" in text
        years = w["years_experience"]
        assert (f"{years} year" in text) if years else ("less than a year" in text)
        assert all(skill in text for skill in _split(w["skills"]))
        assert all(cert in text for cert in _split(w["certifications"]))
        sentences = len(re.findall(r"[.!?](?=\s|$)", text.replace("St. Louis", "Saint Louis")))
        assert 2 <= sentences <= 4, text


def test_about_one_in_ten_resumes_span_lines_and_some_quote_a_nickname(workers: list[dict]) -> None:
    multiline = sum("\n" in w["resume_text"] for w in workers)
    quoted = [w["resume_text"] for w in workers if '"' in w["resume_text"]]
    assert 0.07 * ROWS < multiline < 0.13 * ROWS
    assert 0.02 * ROWS < len(quoted) < 0.15 * ROWS
    assert all(re.search(r' "[A-Z][a-z]+"\.', text) for text in quoted)


# -- CSV format -----------------------------------------------------------------------------------------


def _expected_cells(workers: list[dict]) -> list[list[str]]:
    def cell(column: str, value: object) -> str:
        if value is None:
            return ""
        if column == "hourly_rate":
            return f"{value:.2f}"
        return str(value)

    return [[cell(c, w[c]) for c in COLUMNS] for w in workers]


def test_csv_round_trips_exactly_through_python_csv_module(workers: list[dict], csv_path: Path) -> None:
    with open(csv_path, newline="", encoding="utf-8") as f:
        records = list(csv.reader(f, strict=True))
    assert records[1:] == _expected_cells(workers)
    assert any("\n" in r[-1] for r in records) and any('"' in r[-1] for r in records)


def test_csv_round_trips_exactly_through_pyarrow_with_newlines_in_values(csv_path: Path) -> None:
    expected = generate_workers(ROWS, seed=7)
    read = pacsv.read_csv(
        csv_path,
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(column_types=expected.schema, strings_can_be_null=True),
    )
    assert read.column_names == expected.column_names
    assert read.equals(expected)


def test_csv_is_rfc4180_shaped_with_quoted_strings_crlf_records_and_two_decimal_rates(
    csv_path: Path,
) -> None:
    raw = csv_path.read_bytes()
    assert raw.startswith(b'"worker_id","name","role",')
    assert raw.endswith(b"\r\n")
    assert raw.count(b"\r\n") == ROWS + 1  # one CRLF per record; line breaks inside resumes are bare LF
    assert b'""' in raw  # an embedded quote is doubled
    assert re.search(rb'\r\n\d+,"', raw)  # worker_id is a bare number, the name a quoted string
    with open(csv_path, newline="", encoding="utf-8") as f:
        rates = [r[COLUMNS.index("hourly_rate")] for r in list(csv.reader(f))[1:]]
    assert all(re.fullmatch(r"\d+\.\d{2}", r) for r in rates)


# -- bounds and writing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "bound"),
    [(0, "at least 1,000"), (MIN_ROWS - 1, "at least 1,000"), (MAX_ROWS + 1, "at most 500,000")],
)
def test_rows_outside_bounds_raise_value_error_naming_the_bound(rows: int, bound: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=bound):
        generate_workers(rows)
    target = tmp_path / "workers.csv"
    with pytest.raises(ValueError, match=bound):
        write_workers_csv(target, rows)
    assert list(tmp_path.iterdir()) == []


def test_bounds_themselves_are_accepted() -> None:
    assert generate_workers(MIN_ROWS).num_rows == MIN_ROWS


def test_write_replaces_existing_file_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "workers.csv"
    target.write_text("stale\n")
    size = write_workers_csv(target, MIN_ROWS, seed=5)
    assert size == target.stat().st_size > 100_000
    assert [p.name for p in tmp_path.iterdir()] == ["workers.csv"]
    assert target.read_bytes().startswith(b'"worker_id"')


def test_generated_strings_have_no_nulls_except_certifications() -> None:
    table = generate_workers(MIN_ROWS, seed=9)
    for name in COLUMNS:
        if name != "certifications":
            assert table[name].null_count == 0, name
    assert pc.min(pc.utf8_length(table["resume_text"])).as_py() > 80
