"""CSV ingest: parsing, type inference, content addressing, limits, drift and every bad input."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from lakehouse_assets.core.ingest.csv import IngestLimits, TooLarge, ingest_csv
from lakehouse_assets.core.ingest.exceptions import BadCsv
from lakehouse_assets.core.ingest.spool import Spool, UploadAborted
from lakehouse_assets.core.lake.catalog import Catalog, InvalidDatasetName, SchemaConflict
from lakehouse_assets.core.lake.handle import Lake
from lakehouse_assets.core.lake.register import IngestResult
from lakehouse_assets.core.settings import LakehouseSettings


@pytest.fixture
def ingest(lake: Lake):
    def run(data: bytes | Path, name: str = "people", max_bytes: int = 1 << 30) -> IngestResult:
        source = data if isinstance(data, Path) else io.BytesIO(data)
        return ingest_csv(
            source,
            name,
            lake=lake,
            limits=IngestLimits(max_bytes=max_bytes),
        )

    return run


def read_rows(lake: Lake, result: IngestResult) -> list[dict]:
    return pq.read_table(lake.storage.local_path(result.manifest.object_key)).to_pylist()


def schema_of(result: IngestResult) -> dict[str, str]:
    return {c.name: c.type for c in result.manifest.schema}


def lake_files(settings: LakehouseSettings) -> set[str]:
    return {p.relative_to(settings.home).as_posix() for p in settings.home.rglob("*") if p.is_file()}


def test_rfc4180_quoting_and_multiline_fields_round_trip(ingest, lake):
    data = b'id,note\n1,"comma, inside"\n2,"say ""hi"""\n3,"two\nlines"\n4,"crlf\r\nline"\n'
    result = ingest(data)
    assert [r["note"] for r in read_rows(lake, result)] == ["comma, inside", 'say "hi"', "two\nlines", "crlf\r\nline"]
    assert result.manifest.row_count == 4


def test_type_inference_defaults_to_string_on_ambiguity(ingest, lake):
    data = (
        b"id,code,zip,phone,mixed,rate,flag,day,plus,empty\n"
        b"1,00123,60601,3125550147,12,1.5,true,2024-01-02,+5,\n"
        b"2,00456,60602,3125550148,abc,2,False,2024-02-03,+6,\n"
    )
    result = ingest(data)
    assert schema_of(result) == {
        "id": "BIGINT",
        "code": "VARCHAR",  # leading zeros are identifiers, not numbers
        "zip": "VARCHAR",
        "phone": "VARCHAR",
        "mixed": "VARCHAR",
        "rate": "DOUBLE",
        "flag": "BOOLEAN",
        "day": "DATE",
        "plus": "VARCHAR",
        "empty": "VARCHAR",
    }
    rows = read_rows(lake, result)
    assert rows[0]["code"] == "00123" and rows[1]["zip"] == "60602" and rows[0]["phone"] == "3125550147"
    assert rows[1]["flag"] is False and rows[0]["empty"] is None


def test_value_that_breaks_a_type_late_in_the_file_widens_the_column(ingest, lake, monkeypatch):
    monkeypatch.setattr("lakehouse_assets.core.ingest.csv.BLOCK_SIZE", 1 << 10)  # many small batches
    lines = [b"id,amount,code"] + [f"{i},{i},{i + 1}".encode() for i in range(1, 400)]
    lines += [b"400,12.5,00400"]  # past the first block: a float and a leading zero
    result = ingest(b"\n".join(lines) + b"\n")
    assert schema_of(result) == {"id": "BIGINT", "amount": "DOUBLE", "code": "VARCHAR"}
    rows = read_rows(lake, result)
    assert rows[-1] == {"id": 400, "amount": 12.5, "code": "00400"} and rows[0]["code"] == "2"
    assert len(rows) == 400


def test_identical_content_is_a_noop_and_new_content_is_a_new_version(ingest, lake):
    first = ingest(b"id,name\n1,a\n")
    again = ingest(b"id,name\n1,a\n")
    assert first.created and not again.created
    assert again.manifest.version == 1
    second = ingest(b"id,name\n1,a\n2,b\n")
    assert second.created and second.manifest.version == 2
    old, new = second.manifest.versions
    assert old.object_key != new.object_key  # content-addressed: nothing live is overwritten
    assert lake.storage.exists(old.object_key) and lake.storage.exists(new.object_key)
    assert new.object_key == f"datasets/people/{new.content_hash}.parquet"


def test_new_version_takes_the_live_types_even_if_the_data_looks_narrower(ingest, lake):
    ingest(b"id,rate\n1,1.5\n")
    result = ingest(b"id,rate\n2,3\n")  # 3 alone would infer BIGINT; the live schema says DOUBLE
    assert result.manifest.version == 2 and schema_of(result)["rate"] == "DOUBLE"
    assert read_rows(lake, result) == [{"id": 2, "rate": 3.0}]


def test_schema_drift_is_rejected_before_live_data_changes(ingest, settings, catalog):
    live = ingest(b"id,name\n1,a\n").manifest
    before = lake_files(settings)
    with pytest.raises(SchemaConflict) as renamed:
        ingest(b"id,full_name\n1,a\n")
    assert "(id BIGINT, name VARCHAR)" in str(renamed.value) and "(id BIGINT, full_name VARCHAR)" in str(renamed.value)
    with pytest.raises(SchemaConflict) as retyped:
        ingest(b"id,name\nx1,a\n")
    assert "column 'id' is BIGINT but line 2 has 'x1'" in str(retyped.value)
    assert lake_files(settings) == before
    assert Catalog(catalog.storage).get("people") == live


def test_type_conflict_far_into_the_file_names_the_physical_line(ingest, monkeypatch):
    monkeypatch.setattr("lakehouse_assets.core.ingest.csv.BLOCK_SIZE", 1 << 10)
    ingest(b"id,note\n1,a\n")
    lines = [b"id,note", b'1,"multi\nline"'] + [f"{i},n".encode() for i in range(2, 300)] + [b"oops,n"]
    with pytest.raises(SchemaConflict) as e:
        ingest(b"\n".join(lines) + b"\n")
    assert "line 302 has 'oops'" in str(e.value)  # header + 2-line record + 298 rows before it


@pytest.mark.parametrize(
    ("data", "problem", "line"),
    [
        (b"", "the file is empty", 1),
        (b"  \n\n", "the file is empty", 1),
        (b"id,name\n", "header but no data rows", 2),
        (b"id,name", "header but no data rows", 2),
        (b"id,id\n1,2\n", "duplicate column name 'id' (columns 1 and 2", 1),
        (b"name,id,ID\n1,2,3\n", "duplicate column name 'ID' (columns 2 and 3; 'id' came first)", 1),
        (b"id,,name\n1,2,3\n", "column 2 of the header has a blank name", 1),
        (b"id, \n1,2\n", "column 2 of the header has a blank name", 1),
        (b"id,name\n1,a\n2,b,c\n", "ragged row: expected 2 fields, found 3", 3),
        (b"id,name\n1,a\n2\n", "ragged row: expected 2 fields, found 1", 3),
        (b'id,name\n1,"a\nb"\n2,b,c\n', "ragged row: expected 2 fields, found 3", 4),
        (b"id,name\n1,a\n2,caf\xe9\n", "not valid UTF-8", 3),
        (b"id,n\xff\n1,a\n", "header is not valid UTF-8", 1),
    ],
)
def test_bad_csv_is_refused_with_the_problem_and_line(ingest, settings, data, problem, line):
    with pytest.raises(BadCsv) as e:
        ingest(data)
    assert problem in str(e.value)
    assert e.value.line == line
    assert not any(f.startswith(("datasets/", "catalog/")) for f in lake_files(settings))


def test_unterminated_quote_is_refused_naming_the_line_it_opens_on(ingest):
    with pytest.raises(BadCsv, match="malformed quoting") as e:
        ingest(b'id,name\n1,a\n2,"never closed\n3,b\n')
    assert e.value.line == 3


@pytest.mark.parametrize("given", ["stream", "path"])
def test_an_unclosed_quote_is_found_whether_counted_while_spooling_or_by_a_scan(ingest, tmp_path, given):
    """A stream's quotes are counted as it is spooled; a file given by path is scanned beside the conversion."""
    data = b"id,note\n" + b'1,"a ""quoted"" word"\n' * 50_000 + b'2,"open\n3,x\n'
    source: bytes | Path = data
    if given == "path":
        source = tmp_path / "in.csv"
        source.write_bytes(data)
    with pytest.raises(BadCsv, match="malformed quoting") as e:
        ingest(source)
    assert e.value.line == 50_002
    assert ingest(data[: -len(b'2,"open\n3,x\n')]).manifest.row_count == 50_000  # an even count passes


def test_size_cap_refuses_before_anything_is_stored(ingest, settings, tmp_path):
    data = b"id\n" + b"1\n" * 100
    with pytest.raises(TooLarge) as e:
        ingest(data, max_bytes=50)
    assert e.value.limit == 50
    path = tmp_path / "big.csv"
    path.write_bytes(data)
    with pytest.raises(TooLarge):
        ingest(path, max_bytes=50)
    assert ingest(data, max_bytes=len(data)).created
    assert not any(f.startswith(".tmp/") for f in lake_files(settings))  # no staged leftovers


@pytest.mark.parametrize("name", ["People", "1x", "", "a-b", "x__v2", "../etc", "a" * 64])
def test_invalid_dataset_names_are_refused(ingest, name):
    with pytest.raises(InvalidDatasetName):
        ingest(b"id\n1\n", name=name)


def test_utf8_bom_and_header_whitespace_are_not_part_of_column_names(ingest):
    result = ingest("\ufeffid , name\n1,ä\n".encode())
    assert [c.name for c in result.manifest.schema] == ["id", "name"]


def test_ingest_from_a_path_leaves_the_source_file_alone(ingest, tmp_path, lake):
    src = tmp_path / "in.csv"
    src.write_bytes(b"id,name\n1,a\n")
    result = ingest(src)
    assert src.read_bytes() == b"id,name\n1,a\n"
    assert read_rows(lake, result) == [{"id": 1, "name": "a"}]


@pytest.mark.parametrize(
    ("data", "problem", "line"),
    [
        (b"a,b\n1,x\n\n2,y\n3,z,extra\n", "ragged row: expected 2 fields, found 3", 5),  # blank line counted
        (b"a,b\n1,x\n2,\xff\n", "the file is not valid UTF-8", 3),  # bad bytes in data, not the header
        (b"lamp,h\nx,5'10\"\n", "never closed", 2),  # a stray quote: the line it is on
    ],
)
def test_bad_input_lines_match_the_file(ingest, data, problem, line):
    with pytest.raises(BadCsv) as e:
        ingest(data)
    assert problem in str(e.value) and e.value.line == line


def test_type_conflict_line_counts_blank_lines(ingest):
    ingest(b"a,b\n1,x\n")
    with pytest.raises(SchemaConflict, match="line 6 has 'zz'"):
        ingest(b"a,b\n\n\n\n1,x\nzz,y\n")


def test_integers_too_long_for_bigint_stay_exact_strings(ingest, lake):
    result = ingest(b"order_id,big\n1234567890123456789,1e400\n9007199254740993,1e5\n")
    assert schema_of(result) == {"order_id": "VARCHAR", "big": "VARCHAR"}
    assert [r["order_id"] for r in read_rows(lake, result)] == ["1234567890123456789", "9007199254740993"]


def test_doubles_with_more_digits_than_a_double_holds_stay_strings(ingest):
    assert schema_of(ingest(b"x\n12345678901234.123456\n"))["x"] == "VARCHAR"
    assert schema_of(ingest(b"y\n0.000123\n", name="other"))["y"] == "DOUBLE"


def test_identifier_hints_match_whole_words_only(ingest):
    result = ingest(b"hotel_rate,missing_count,home_phone,zip\n120,3,3125550147,60601\n")
    assert schema_of(result) == {
        "hotel_rate": "BIGINT",
        "missing_count": "BIGINT",
        "home_phone": "VARCHAR",
        "zip": "VARCHAR",
    }


def test_blank_lines_in_a_one_column_file_are_empty_values(ingest, lake):
    result = ingest(b"x\n1\n\n3\n")
    assert [r["x"] for r in read_rows(lake, result)] == [1, None, 3]


def _write_later(spool: Spool, pieces: list[bytes], pause: float = 0.01) -> threading.Thread:
    def run() -> None:
        for piece in pieces:
            time.sleep(pause)
            spool.write(piece)
        spool.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _ingest_spool(lake: Lake, spool: Spool, name: str) -> IngestResult:
    return ingest_csv(spool, name, lake=lake, limits=IngestLimits())


def _big_csv(rows: int) -> bytes:
    return b"id,name,rate\n" + b"".join(b'%d,"worker %d, the %dth",%d.25\n' % (i, i, i, i % 90) for i in range(rows))


def test_an_upload_is_converted_while_it_arrives_into_the_same_object_as_the_file(
    ingest, settings, lake, catalog, tmp_path
):
    data = _big_csv(200_000)  # several read blocks
    spool = Spool(settings.scratch_dir, 1 << 30)
    half = len(data) - (1 << 18)  # all but the last 256 KiB (the reader runs a few blocks ahead of the rows)
    spool.write(data[:half])
    result: list = []
    thread = threading.Thread(target=lambda: result.append(_ingest_spool(lake, spool, "live")))
    thread.start()
    deadline = time.monotonic() + 30
    while not list(settings.scratch_dir.glob("stage-*.parquet")) and time.monotonic() < deadline:
        time.sleep(0.01)
    staged_before_the_end = bool(list(settings.scratch_dir.glob("stage-*.parquet")))
    spool.write(data[half:])
    spool.close()
    thread.join(timeout=60)
    assert staged_before_the_end  # the Parquet was being written before the last byte arrived
    (tmp_path / "all.csv").write_bytes(data)
    from_file = ingest(tmp_path / "all.csv", name="whole")
    assert result[0].manifest.current.content_hash == from_file.manifest.current.content_hash
    assert result[0].manifest.row_count == 200_000
    assert schema_of(result[0]) == {"id": "BIGINT", "name": "VARCHAR", "rate": "DOUBLE"}


def test_a_column_widened_late_in_an_arriving_upload_restarts_from_the_spool(ingest, settings, lake, catalog):
    data = _big_csv(150_000) + b"150000,last,n/a\n"  # `rate` turns VARCHAR on the very last line
    spool = Spool(settings.scratch_dir, 1 << 30)
    writer = _write_later(spool, [data[i : i + (1 << 20)] for i in range(0, len(data), 1 << 20)])
    result = _ingest_spool(lake, spool, "late")
    writer.join()
    assert schema_of(result)["rate"] == "VARCHAR" and result.manifest.row_count == 150_001
    assert read_rows(lake, result)[-1] == {"id": 150000, "name": "last", "rate": "n/a"}


def test_an_abandoned_upload_ends_its_conversion_and_registers_nothing(settings, lake, catalog):
    data = _big_csv(100_000)
    spool = Spool(settings.scratch_dir, 1 << 30)
    spool.write(data[: len(data) // 2])
    errors: list = []

    def convert() -> None:
        try:
            _ingest_spool(lake, spool, "gone")
        except UploadAborted as e:
            errors.append(e)

    thread = threading.Thread(target=convert)
    thread.start()
    time.sleep(0.3)
    spool.discard()
    thread.join(timeout=30)
    assert not thread.is_alive() and len(errors) == 1
    assert catalog.live("gone") is None
    assert list(settings.scratch_dir.iterdir()) == []  # no staged Parquet, no spool file


@pytest.mark.parametrize(
    ("tail", "problem", "line_after"),
    [(b"x,y\n", "ragged row", 1), (b'9,"never closed\n10,a,1.5\n', "malformed quoting", 1)],
)
def test_bad_rows_in_an_arriving_upload_name_the_same_line_as_in_a_file(
    ingest, settings, lake, catalog, tail, problem, line_after
):
    data = _big_csv(80_000) + tail
    spool = Spool(settings.scratch_dir, 1 << 30)
    writer = _write_later(spool, [data[i : i + (1 << 19)] for i in range(0, len(data), 1 << 19)])
    with pytest.raises(BadCsv, match=problem) as e:
        _ingest_spool(lake, spool, "bad")
    writer.join()
    assert e.value.line == 80_001 + line_after  # the header, 80,000 rows, then the bad one
