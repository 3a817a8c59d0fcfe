"""The upload spool: readers follow the writer, wait for bytes not yet written, and stop when the
upload is abandoned or they are closed."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from lakehouse_assets.core.ingest.spool import Spool, TooLarge, UploadAborted


def read_all(spool: Spool, size: int, out: list) -> None:
    try:
        with spool.reader() as f:
            while chunk := f.read(size):
                out.append(chunk)
    except UploadAborted as e:
        out.append(e)


def started(target, *args) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


def test_a_reader_gets_every_byte_in_order_while_the_writer_is_still_writing(tmp_path: Path):
    spool = Spool(tmp_path, 1 << 20)
    chunks = [bytes([i]) * (1000 + i) for i in range(50)]
    out: list = []
    reader = started(read_all, spool, 4096, out)
    for chunk in chunks:
        spool.write(chunk)
        time.sleep(0.001)
    assert reader.is_alive()  # still waiting for the rest: the upload has not ended
    spool.close()
    reader.join(timeout=10)
    assert b"".join(out) == b"".join(chunks)
    assert spool.path.read_bytes() == b"".join(chunks)  # the file stays for the error paths


def test_a_read_waits_for_the_bytes_it_asked_for_or_the_end(tmp_path: Path):
    spool = Spool(tmp_path, 1 << 20)
    spool.write(b"abc")
    out: list = []
    reader = started(read_all, spool, 10, out)
    time.sleep(0.2)
    assert out == []  # 3 of the 10 bytes asked for: it waits
    spool.write(b"defghij")
    deadline = time.monotonic() + 5
    while not out and time.monotonic() < deadline:
        time.sleep(0.01)
    assert out == [b"abcdefghij"]
    spool.write(b"k")
    spool.close()  # the end: a short read, then end of file
    reader.join(timeout=5)
    assert out == [b"abcdefghij", b"k"]


def test_abandoning_the_upload_ends_waiting_reads_with_upload_aborted(tmp_path: Path):
    spool = Spool(tmp_path, 1 << 20)
    spool.write(b"x" * 100)
    out: list = []
    reader = started(read_all, spool, 1000, out)
    time.sleep(0.1)
    spool.discard()
    reader.join(timeout=5)
    assert not reader.is_alive()
    assert isinstance(out[-1], UploadAborted)
    assert not spool.path.exists()
    with pytest.raises(UploadAborted):
        spool.finished()


def test_passing_the_size_cap_discards_the_spool_and_stops_its_readers(tmp_path: Path):
    spool = Spool(tmp_path, 10)
    out: list = []
    reader = started(read_all, spool, 100, out)
    spool.write(b"12345")
    with pytest.raises(TooLarge):
        spool.write(b"678901")
    reader.join(timeout=5)
    assert isinstance(out[-1], UploadAborted)
    assert list(tmp_path.iterdir()) == []


def test_closing_a_reader_releases_its_waiting_read(tmp_path: Path):
    spool = Spool(tmp_path, 1 << 20)
    reader = spool.reader()
    got: list = []
    thread = started(lambda: got.append(reader.read(100)))
    time.sleep(0.1)
    assert thread.is_alive()
    reader.close()
    thread.join(timeout=5)
    assert got == [b""]  # released as the end of its stream, while the upload goes on
    spool.write(b"more")
    assert spool.close().finished().size == 4


def test_finished_waits_for_the_end_and_counts_the_quotes(tmp_path: Path):
    spool = Spool(tmp_path, 1 << 20)
    done: list = []
    waiter = started(lambda: done.append(spool.finished()))
    spool.write(b'a,"b\n')
    time.sleep(0.1)
    assert done == []
    spool.close()
    waiter.join(timeout=5)
    assert done == [spool] and spool.odd_quotes
