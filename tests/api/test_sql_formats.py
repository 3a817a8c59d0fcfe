"""POST /v1/sql in the formats the Accept header asks for: Arrow IPC, CSV and NDJSON stream the same rows
as the JSON result, under the same sandbox and limits, and read back in Arrow, DuckDB and the csv module."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.negotiate import NotAcceptable, choose
from api.settings import ApiSettings

ARROW = "application/vnd.apache.arrow.stream"
ROSTER = (
    b"worker_id,name,note,rate,hired\n"
    b'1,Ann,"welds, grinds",30.5,2026-01-02\n'
    b'2,Bob,"says ""hi""\nand leaves",28.0,2026-02-03\n'
    b"3,Cy,,21.25,2026-03-04\n"
)
QUERY = "SELECT worker_id, name, note, rate, hired FROM workers ORDER BY worker_id"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = ApiSettings(home=tmp_path / "lake", report_to_dagster=False, warm_embedder=False, _env_file=None)
    with TestClient(create_app(settings)) as c:
        r = c.post("/v1/ingest?name=workers", content=ROSTER, headers={"content-type": "text/csv"})
        assert r.status_code == 201, r.text
        yield c


def sql(client: TestClient, accept: str | None, query: str = QUERY, **body: object):
    headers = {"accept": accept} if accept else {}
    return client.post("/v1/sql", json={"sql": query, **body}, headers=headers)


def test_arrow_stream_holds_the_rows_with_their_types(client):
    r = sql(client, ARROW)
    assert r.status_code == 200 and r.headers["content-type"] == ARROW
    assert r.headers["x-lakehouse-row-count"] == "3" and r.headers["x-lakehouse-truncated"] == "false"
    table = pa.ipc.open_stream(r.content).read_all()
    assert table.schema.field("rate").type == pa.float64() and table.schema.field("hired").type == pa.date32()
    assert table.column("note").to_pylist() == ["welds, grinds", 'says "hi"\nand leaves', None]
    # another engine reads the bytes as they came, with no project code
    assert duckdb.from_arrow(table).aggregate("sum(rate)").fetchall() == [(79.75,)]


def test_csv_and_ndjson_carry_the_same_rows_as_json(client):
    rows = sql(client, None).json()["rows"]
    r = sql(client, "text/csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(r.text)))
    assert lines[0] == ["worker_id", "name", "note", "rate", "hired"]
    assert lines[2] == ["2", "Bob", 'says "hi"\nand leaves', "28", "2026-02-03"]
    assert lines[3][2] == ""  # a null is an empty field
    r = sql(client, "application/x-ndjson")
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-ndjson"
    records = [json.loads(line) for line in r.text.splitlines()]
    assert [list(rec.values()) for rec in records] == rows
    assert list(records[0]) == ["worker_id", "name", "note", "rate", "hired"]


def test_the_row_limit_and_its_ceiling_hold_in_every_format(client):
    for accept in (ARROW, "text/csv", "application/x-ndjson"):
        r = sql(client, accept, "SELECT range AS i FROM range(100000)", limit=70000)
        assert r.status_code == 200, r.text
        assert r.headers["x-lakehouse-row-count"] == "70000" and r.headers["x-lakehouse-truncated"] == "true"
    assert pa.ipc.open_stream(sql(client, ARROW, "SELECT * FROM range(50)", limit=7).content).read_all().num_rows == 7
    csv_rows = sql(client, "text/csv", "SELECT * FROM range(50)", limit=7).text.splitlines()
    assert len(csv_rows) == 8  # header + 7
    over = sql(client, ARROW, "SELECT 1", limit=10_000_000)
    assert over.status_code == 400 and "above the largest allowed" in over.json()["message"]


def test_the_sandbox_answers_with_a_json_error_whatever_was_asked_for(client, tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    for query, code in (
        ("DELETE FROM workers", "sql_refused"),
        (f"SELECT * FROM read_csv('{secret}')", "sql_refused"),
        ("SELEC 1", "sql_error"),
        ("SELECT count(*) FROM range(100000000000)", "sql_timeout"),
    ):
        r = sql(client, ARROW, query, timeout_ms=300)
        assert r.status_code == 400 and r.headers["content-type"] == "application/json", (query, r.text)
        assert r.json()["error"] == code, (query, r.json())


def test_an_accept_header_naming_nothing_offered_is_a_406_that_lists_the_formats(client):
    r = sql(client, "image/png")
    assert r.status_code == 406 and r.json()["error"] == "not_acceptable"
    assert "image/png" in r.json()["message"] and ARROW in r.json()["message"]
    assert sql(client, "*/*").headers["content-type"] == "application/json"
    assert sql(client, "text/*").headers["content-type"].startswith("text/csv")


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, "application/json"),
        ("", "application/json"),
        ("application/json", "application/json"),
        ("text/csv;q=0.5, application/x-ndjson", "application/x-ndjson"),
        ("*/*;q=0.1, application/vnd.apache.arrow.stream", ARROW),
        ("text/csv, application/x-ndjson", "text/csv"),  # equal q: the client's order
        ("application/*", "application/json"),
        ("*/*, application/json;q=0", ARROW),  # refused by name, though */* would take it
        ("TEXT/CSV", "text/csv"),
        ("text/csv;q=abc, application/x-ndjson;q=0.2", "application/x-ndjson"),
    ],
)
def test_choose_follows_q_values_specificity_and_order(accept, chosen):
    assert choose(accept, ("application/json", ARROW, "text/csv", "application/x-ndjson")) == chosen


def test_choose_refuses_what_is_not_offered():
    with pytest.raises(NotAcceptable, match="image/png"):
        choose("image/png, text/csv;q=0", ("application/json", "text/csv"))
