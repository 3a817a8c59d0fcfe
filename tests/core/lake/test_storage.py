"""Lake storage: the same behaviour over a local folder and over S3 (moto's server, over real HTTP)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from lakehouse_assets.core.lake.storage import (
    MAX_KEY_BYTES,
    InvalidKey,
    LakeStorage,
    LocalStorage,
    ObjectNotFound,
    S3Storage,
    open_storage,
    validate_key,
)
from lakehouse_assets.core.settings import LakehouseSettings
from tests.conftest import S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, S3Endpoint

# -- helpers ---------------------------------------------------------------------------------------


def sample_table() -> pa.Table:
    return pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "name": pa.array(["ada", "grace", None], pa.string()),
            "rate": pa.array([41.5, 38.0, 52.25], pa.float64()),
        }
    )


def parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def nested_key(total_bytes: int, char: str = "d") -> str:
    """A key of exactly `total_bytes` UTF-8 bytes, in components a filesystem accepts (< 255 bytes)."""
    width = len(char.encode("utf-8"))
    unit = char * (100 // width) + "/"  # 100 bytes of `char`, then a separator
    unit_bytes = len(unit.encode("utf-8"))
    count = (total_bytes - 100) // unit_bytes
    while (total_bytes - count * unit_bytes) % width:
        count -= 1
    tail = total_bytes - count * unit_bytes
    assert 0 < tail < 255
    key = unit * count + char * (tail // width)
    assert len(key.encode("utf-8")) == total_bytes
    return key


def listed(storage: LakeStorage, prefix: str = "") -> list[str]:
    return [o.key for o in storage.list(prefix)]


def tree_snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under `root` (directories as None, files with their bytes)."""
    snap: dict[str, bytes | None] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            snap[os.path.relpath(os.path.join(dirpath, d), root)] = None
        for f in filenames:
            full = os.path.join(dirpath, f)
            snap[os.path.relpath(full, root)] = Path(full).read_bytes()
    return snap


def raw_s3_keys(storage: S3Storage) -> list[str]:
    resp = storage.client.list_objects_v2(Bucket=storage.bucket)
    return [o["Key"] for o in resp.get("Contents", [])]


class RecordingClient:
    """Wraps a boto3 client and records every method called: proves whether a request was attempted."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._real, name)

        def record(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return method(*args, **kwargs)

        return record


# -- key validation --------------------------------------------------------------------------------

BAD_KEYS = [
    pytest.param("", "empty", id="empty"),
    pytest.param("..", "'..'", id="dotdot"),
    pytest.param("../escape.bin", "'..'", id="dotdot-leading"),
    pytest.param("a/../../escape.bin", "'..'", id="dotdot-inner"),
    pytest.param("a/..", "'..'", id="dotdot-trailing"),
    pytest.param("./a", "'.'", id="dot-component"),
    pytest.param("/etc/passwd", "starts with '/'", id="leading-slash"),
    pytest.param("a\x00b", "control character 0x00", id="nul"),
    pytest.param("a\nb", "control character 0x0a", id="newline"),
    pytest.param("a\tb", "control character 0x09", id="tab"),
    pytest.param("a\x7fb", "control character 0x7f", id="del"),
    pytest.param("a\rb", "control character 0x0d", id="carriage-return"),
    pytest.param("a\ud800b", "not valid UTF-8", id="lone-surrogate"),
    pytest.param("a//b", "empty path component", id="empty-component"),
    pytest.param("a/", "empty path component", id="trailing-slash"),
    pytest.param("k" * (MAX_KEY_BYTES + 1), f"longer than {MAX_KEY_BYTES} bytes", id="1025-ascii-bytes"),
    pytest.param("é" * 513, f"longer than {MAX_KEY_BYTES} bytes", id="1026-bytes-in-513-chars"),
    pytest.param("a" * 1023 + "é", f"longer than {MAX_KEY_BYTES} bytes", id="1025-bytes-in-1024-chars"),
]


@pytest.mark.parametrize(("key", "problem"), BAD_KEYS)
def test_validate_key_rejects_with_a_message_naming_the_problem(key: str, problem: str) -> None:
    with pytest.raises(InvalidKey) as err:
        validate_key(key)
    assert problem in str(err.value)
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("a", id="one-char"),
        pytest.param("datasets/staff/0a1b.parquet", id="nested"),
        pytest.param("k" * MAX_KEY_BYTES, id="exactly-1024-ascii"),
        pytest.param("é" * (MAX_KEY_BYTES // 2), id="exactly-1024-bytes-multibyte"),
        pytest.param("a..b/.hidden/x.y", id="dots-inside-components"),
        pytest.param("ünïcödé/名前 with spaces", id="unicode-and-spaces"),
    ],
)
def test_validate_key_accepts_safe_keys_unchanged(key: str) -> None:
    assert validate_key(key) == key


def test_invalid_key_message_shows_the_offending_key() -> None:
    with pytest.raises(InvalidKey, match=r"'\.\./x'"):
        validate_key("../x")


@pytest.mark.parametrize(("key", "problem"), BAD_KEYS)
def test_every_storage_method_rejects_a_bad_key_before_touching_anything(
    storage: LakeStorage, tmp_path: Path, key: str, problem: str
) -> None:
    storage.put_bytes("keep/me.bin", b"untouched")
    source = tmp_path / "source.bin"
    source.write_bytes(b"payload")
    dest = tmp_path / "downloaded.bin"
    recorder: RecordingClient | None = None
    if isinstance(storage, S3Storage):
        recorder = RecordingClient(storage.client)
        storage.client = recorder
    before = tree_snapshot(tmp_path)

    calls: dict[str, Callable[[], object]] = {
        "put_bytes": lambda: storage.put_bytes(key, b"x"),
        "put_file": lambda: storage.put_file(key, source),
        "create_exclusive": lambda: storage.create_exclusive(key, b"x"),
        "get_bytes": lambda: storage.get_bytes(key),
        "download": lambda: storage.download(key, dest),
        "info": lambda: storage.info(key),
        "exists": lambda: storage.exists(key),
        "delete": lambda: storage.delete(key),
        "arrow_location": lambda: storage.arrow_location(key),
        "local_path": lambda: storage.local_path(key),
    }
    for method, call in calls.items():
        with pytest.raises(InvalidKey) as err:
            call()
        assert problem in str(err.value), method

    assert tree_snapshot(tmp_path) == before  # nothing written, moved or created, inside or outside
    assert source.read_bytes() == b"payload"
    assert not dest.exists()
    if recorder is not None:
        assert recorder.calls == []  # no request reached the server
        storage.client = recorder._real
    assert listed(storage) == ["keep/me.bin"]


@pytest.mark.parametrize("prefix", ["../", "/", "a//", "x/../../", "../x", "a/../b", "\x00"])
def test_list_rejects_a_prefix_that_could_escape_the_lake(storage: LakeStorage, tmp_path: Path, prefix: str) -> None:
    (tmp_path / "outside.txt").write_text("not part of the lake")
    storage.put_bytes("inside.bin", b"x")
    with pytest.raises(InvalidKey):
        list(storage.list(prefix))


def test_list_accepts_a_partial_name_prefix_made_of_dots(storage: LakeStorage) -> None:
    put_all(storage, [".hidden/x.bin", "..odd", "a/.b", "a/c", ".tmpish"])
    assert listed(storage, ".") == ["..odd", ".hidden/x.bin", ".tmpish"]
    assert listed(storage, "..") == ["..odd"]
    assert listed(storage, "a/.") == ["a/.b"]


# -- round trips -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"hello lake", id="text"),
        pytest.param(bytes(range(256)) * 64, id="all-byte-values"),
        pytest.param(b"", id="empty"),
    ],
)
def test_put_bytes_then_get_bytes_round_trips(storage: LakeStorage, data: bytes) -> None:
    storage.put_bytes("datasets/x/obj.bin", data)
    assert storage.get_bytes("datasets/x/obj.bin") == data
    info = storage.info("datasets/x/obj.bin")
    assert info is not None
    assert (info.key, info.size) == ("datasets/x/obj.bin", len(data))


def test_put_bytes_replaces_the_previous_object(storage: LakeStorage) -> None:
    storage.put_bytes("k.bin", b"first version")
    storage.put_bytes("k.bin", b"second")
    assert storage.get_bytes("k.bin") == b"second"
    assert storage.info("k.bin").size == len(b"second")
    assert listed(storage) == ["k.bin"]


def test_put_file_round_trips_through_get_bytes_and_download(storage: LakeStorage, tmp_path: Path) -> None:
    payload = os.urandom(300_000)
    src = tmp_path / "upload.bin"
    src.write_bytes(payload)
    storage.put_file("uploads/2024/blob.bin", src)

    assert storage.get_bytes("uploads/2024/blob.bin") == payload
    dest = tmp_path / "out" / "copy.bin"
    dest.parent.mkdir()
    storage.download("uploads/2024/blob.bin", dest)
    assert dest.read_bytes() == payload
    assert storage.info("uploads/2024/blob.bin").size == len(payload)


def test_download_of_put_bytes_object_writes_the_same_bytes(storage: LakeStorage, tmp_path: Path) -> None:
    storage.put_bytes("a/b.bin", b"\x00\x01binary\xff")
    dest = tmp_path / "b.bin"
    storage.download("a/b.bin", dest)
    assert dest.read_bytes() == b"\x00\x01binary\xff"


def test_keys_of_exactly_1024_bytes_are_stored_and_read_back(storage: LakeStorage) -> None:
    ascii_key = nested_key(MAX_KEY_BYTES)
    utf8_key = nested_key(MAX_KEY_BYTES, "é")
    storage.put_bytes(ascii_key, b"ascii")
    storage.put_bytes(utf8_key, b"utf8")
    assert storage.get_bytes(ascii_key) == b"ascii"
    assert storage.get_bytes(utf8_key) == b"utf8"
    assert sorted(listed(storage)) == sorted([ascii_key, utf8_key])


def test_unicode_keys_round_trip(storage: LakeStorage) -> None:
    storage.put_bytes("ünï/名前 file.bin", b"u")
    assert storage.get_bytes("ünï/名前 file.bin") == b"u"
    assert listed(storage, "ünï/") == ["ünï/名前 file.bin"]


# -- missing objects -------------------------------------------------------------------------------


def test_get_bytes_of_a_missing_key_raises_object_not_found(storage: LakeStorage) -> None:
    with pytest.raises(ObjectNotFound) as err:
        storage.get_bytes("missing/key.bin")
    assert isinstance(err.value, KeyError)
    assert str(err.value) == "no object at key 'missing/key.bin'"


def test_download_of_a_missing_key_raises_object_not_found(storage: LakeStorage, tmp_path: Path) -> None:
    with pytest.raises(ObjectNotFound):
        storage.download("missing/key.bin", tmp_path / "dest.bin")


def test_info_and_exists_of_a_missing_key(storage: LakeStorage) -> None:
    assert storage.info("missing/key.bin") is None
    assert storage.exists("missing/key.bin") is False


def test_a_folder_like_prefix_of_other_objects_is_not_an_object(storage: LakeStorage, tmp_path: Path) -> None:
    storage.put_bytes("a/b.bin", b"child")
    with pytest.raises(ObjectNotFound):
        storage.get_bytes("a")
    with pytest.raises(ObjectNotFound):
        storage.download("a", tmp_path / "dest.bin")
    assert storage.info("a") is None
    assert storage.exists("a") is False
    storage.delete("a")  # nothing there: a no-op, and the child survives
    assert storage.get_bytes("a/b.bin") == b"child"


def test_a_key_below_an_existing_object_is_missing(storage: LakeStorage) -> None:
    storage.put_bytes("a", b"parent")
    with pytest.raises(ObjectNotFound):
        storage.get_bytes("a/b")
    assert storage.info("a/b") is None
    assert storage.exists("a/b") is False
    storage.delete("a/b")
    assert storage.get_bytes("a") == b"parent"


# -- info / exists / delete ------------------------------------------------------------------------


def test_info_reports_key_size_and_a_version_tag_that_changes_on_rewrite(storage: LakeStorage) -> None:
    storage.put_bytes("d/x.bin", b"12345")
    first = storage.info("d/x.bin")
    assert first is not None
    assert (first.key, first.size) == ("d/x.bin", 5)
    assert first.version_tag
    assert storage.exists("d/x.bin") is True

    storage.put_bytes("d/x.bin", b"a longer body")
    second = storage.info("d/x.bin")
    assert second is not None
    assert second.size == len(b"a longer body")
    assert second.version_tag != first.version_tag


def test_list_entries_match_info(storage: LakeStorage) -> None:
    storage.put_bytes("p/one.bin", b"1")
    storage.put_bytes("p/two.bin", b"22")
    assert list(storage.list("p/")) == [storage.info("p/one.bin"), storage.info("p/two.bin")]


def test_delete_removes_only_that_object(storage: LakeStorage) -> None:
    storage.put_bytes("d/a.bin", b"a")
    storage.put_bytes("d/b.bin", b"b")
    storage.delete("d/a.bin")
    assert storage.exists("d/a.bin") is False
    with pytest.raises(ObjectNotFound):
        storage.get_bytes("d/a.bin")
    assert storage.get_bytes("d/b.bin") == b"b"
    assert listed(storage) == ["d/b.bin"]


def test_delete_of_a_missing_key_is_a_noop(storage: LakeStorage) -> None:
    storage.delete("never/existed.bin")
    assert listed(storage) == []


# -- list ------------------------------------------------------------------------------------------

LIST_KEYS = [
    "data/x/2.bin",
    "data/x/1.bin",
    "data/y/a.bin",
    "data/z",
    "data0",
    "data.txt",
    "database/q.bin",
    "other/k.bin",
    "zz",
    "a/b/c/d.bin",
]


def put_all(storage: LakeStorage, keys: list[str]) -> None:
    for k in keys:
        storage.put_bytes(k, k.encode("utf-8"))


def test_list_by_folder_prefix_returns_nested_keys_sorted_and_nothing_else(storage: LakeStorage) -> None:
    put_all(storage, LIST_KEYS)
    assert listed(storage, "data/") == ["data/x/1.bin", "data/x/2.bin", "data/y/a.bin", "data/z"]
    assert listed(storage, "data/x/") == ["data/x/1.bin", "data/x/2.bin"]
    assert listed(storage, "a/") == ["a/b/c/d.bin"]


def test_list_everything_is_sorted_like_s3(storage: LakeStorage) -> None:
    put_all(storage, LIST_KEYS)
    # S3 lists in UTF-8 byte order: "data/..." ('/' = 0x2f) sorts before "data0" ('0' = 0x30), and
    # root-level "zz" after everything in "a/...".
    assert listed(storage) == sorted(LIST_KEYS)


def test_list_by_partial_name_prefix_matches_by_string_prefix(storage: LakeStorage) -> None:
    put_all(storage, LIST_KEYS)
    assert listed(storage, "data") == sorted(k for k in LIST_KEYS if k.startswith("data"))
    assert listed(storage, "data/x/1") == ["data/x/1.bin"]


def test_list_reports_sizes(storage: LakeStorage) -> None:
    put_all(storage, LIST_KEYS)
    assert {o.key: o.size for o in storage.list()} == {k: len(k.encode("utf-8")) for k in LIST_KEYS}


def test_list_of_an_unknown_prefix_is_empty(storage: LakeStorage) -> None:
    put_all(storage, LIST_KEYS)
    assert listed(storage, "nothing/") == []
    assert listed(storage, "dat/") == []


def test_list_of_an_empty_lake_is_empty(storage: LakeStorage) -> None:
    assert listed(storage) == []


# -- create_exclusive ------------------------------------------------------------------------------


def test_create_exclusive_first_writer_wins_and_second_does_not_overwrite(storage: LakeStorage) -> None:
    assert storage.create_exclusive("catalog/x/v00000001.json", b"first") is True
    assert storage.create_exclusive("catalog/x/v00000001.json", b"second") is False
    assert storage.get_bytes("catalog/x/v00000001.json") == b"first"
    assert listed(storage) == ["catalog/x/v00000001.json"]


def test_create_exclusive_refuses_a_key_written_by_put_bytes(storage: LakeStorage) -> None:
    storage.put_bytes("k.bin", b"plain put")
    assert storage.create_exclusive("k.bin", b"exclusive") is False
    assert storage.get_bytes("k.bin") == b"plain put"


def test_create_exclusive_succeeds_again_after_delete(storage: LakeStorage) -> None:
    assert storage.create_exclusive("k.bin", b"one") is True
    storage.delete("k.bin")
    assert storage.create_exclusive("k.bin", b"two") is True
    assert storage.get_bytes("k.bin") == b"two"


# -- reading Parquet in place ----------------------------------------------------------------------


def test_parquet_object_reads_through_arrow_location(storage: LakeStorage) -> None:
    table = sample_table()
    storage.put_bytes("datasets/staff/abc.parquet", parquet_bytes(table))
    fs, path = storage.arrow_location("datasets/staff/abc.parquet")
    assert isinstance(fs, pafs.FileSystem)
    assert pq.read_table(path, filesystem=fs).equals(table)


def test_parquet_file_put_with_put_file_reads_through_arrow_location(storage: LakeStorage, tmp_path: Path) -> None:
    table = sample_table()
    src = tmp_path / "staged.parquet"
    pq.write_table(table, src)
    storage.put_file("datasets/staff/def.parquet", src)
    fs, path = storage.arrow_location("datasets/staff/def.parquet")
    assert pq.read_table(path, filesystem=fs).equals(table)
    assert pq.ParquetFile(fs.open_input_file(path)).metadata.num_rows == 3


# -- backend specifics -----------------------------------------------------------------------------


def test_local_path_and_describe(storage: LakeStorage) -> None:
    storage.put_bytes("d/x.bin", b"here")
    path = storage.local_path("d/x.bin")
    if isinstance(storage, LocalStorage):
        assert path is not None
        assert path.read_bytes() == b"here"
        assert storage.describe() == storage.root.as_uri()
        assert storage.describe().startswith("file:///")
    else:
        assert isinstance(storage, S3Storage)
        assert path is None
        assert storage.describe() == f"s3://{storage.bucket}/"


def test_s3_prefix_stores_objects_under_it_and_returns_keys_without_it(
    s3_client: Any, s3_bucket: str, s3_arrow_fs: pafs.S3FileSystem
) -> None:
    store = S3Storage(s3_client, s3_bucket, "tenant/one", arrow_fs=s3_arrow_fs)
    table = sample_table()
    store.put_bytes("x/y.parquet", parquet_bytes(table))
    assert store.create_exclusive("x/z.bin", b"z") is True
    # Neighbours outside the prefix, including one that shares its leading characters.
    for outside in ("root.bin", "tenant/other/k.bin", "tenant/one-sibling/w.bin"):
        s3_client.put_object(Bucket=s3_bucket, Key=outside, Body=b"outside")

    assert sorted(raw_s3_keys(store)) == sorted(
        ["root.bin", "tenant/one/x/y.parquet", "tenant/one/x/z.bin", "tenant/other/k.bin", "tenant/one-sibling/w.bin"]
    )
    assert listed(store) == ["x/y.parquet", "x/z.bin"]
    assert listed(store, "x/") == ["x/y.parquet", "x/z.bin"]
    info = store.info("x/z.bin")
    assert info is not None
    assert (info.key, info.size) == ("x/z.bin", 1)  # the key comes back without the prefix
    assert store.get_bytes("x/z.bin") == b"z"
    with pytest.raises(ObjectNotFound):
        store.get_bytes("root.bin")

    fs, path = store.arrow_location("x/y.parquet")
    assert path == f"{s3_bucket}/tenant/one/x/y.parquet"
    assert pq.read_table(path, filesystem=fs).equals(table)
    assert store.describe() == f"s3://{s3_bucket}/tenant/one/"

    store.delete("x/z.bin")
    assert "tenant/one/x/z.bin" not in raw_s3_keys(store)


def test_s3_prefix_slashes_are_normalised(s3_client: Any, s3_bucket: str) -> None:
    a = S3Storage(s3_client, s3_bucket, "/tenant/one/")
    b = S3Storage(s3_client, s3_bucket, "tenant/one")
    assert a.prefix == b.prefix == "tenant/one/"
    a.put_bytes("k.bin", b"k")
    assert b.get_bytes("k.bin") == b"k"
    assert S3Storage(s3_client, s3_bucket, "").prefix == ""
    assert S3Storage(s3_client, s3_bucket, "/").prefix == ""


@pytest.mark.parametrize("prefix", ["../escape", "a//b", "a/./b", "bad\x00prefix"])
def test_s3_invalid_prefix_is_rejected_at_construction(s3_client: Any, prefix: str) -> None:
    with pytest.raises(InvalidKey):
        S3Storage(s3_client, "unused-bucket", prefix)


def test_s3_arrow_location_without_a_pyarrow_filesystem_is_a_clear_error(s3_client: Any, s3_bucket: str) -> None:
    store = S3Storage(s3_client, s3_bucket)
    with pytest.raises(RuntimeError, match="pyarrow filesystem"):
        store.arrow_location("x.parquet")


def test_open_storage_with_an_s3_bucket_builds_a_working_s3_backend(
    tmp_path: Path, s3_endpoint: S3Endpoint, s3_client: Any, s3_bucket: str
) -> None:
    settings = LakehouseSettings(
        _env_file=None,
        home=tmp_path / "home",
        s3_bucket=s3_bucket,
        s3_prefix="lake",
        s3_endpoint_url=s3_endpoint.url,
        s3_region=S3_REGION,
        s3_access_key_id=S3_ACCESS_KEY,
        s3_secret_access_key=S3_SECRET_KEY,
    )
    store = open_storage(settings)
    assert isinstance(store, S3Storage)
    assert store.describe() == f"s3://{s3_bucket}/lake/"

    table = sample_table()
    store.put_bytes("datasets/t.parquet", parquet_bytes(table))
    assert store.create_exclusive("catalog/t/v00000001.json", b"{}") is True
    assert store.create_exclusive("catalog/t/v00000001.json", b"{}") is False
    assert sorted(raw_s3_keys(store)) == ["lake/catalog/t/v00000001.json", "lake/datasets/t.parquet"]
    assert s3_client.get_object(Bucket=s3_bucket, Key="lake/datasets/t.parquet")["Body"].read() == (
        store.get_bytes("datasets/t.parquet")
    )

    fs, path = store.arrow_location("datasets/t.parquet")
    assert isinstance(fs, pafs.S3FileSystem)
    assert pq.read_table(path, filesystem=fs).equals(table)
    assert not (tmp_path / "home").exists()  # the local folder is not the lake when S3 is configured


def test_open_storage_without_a_bucket_is_the_local_home_folder(tmp_path: Path) -> None:
    store = open_storage(LakehouseSettings(_env_file=None, home=tmp_path / "home"))
    assert isinstance(store, LocalStorage)
    assert store.root == (tmp_path / "home").resolve()
    store.put_bytes("k.bin", b"k")
    assert (tmp_path / "home" / "k.bin").read_bytes() == b"k"


# -- local atomicity -------------------------------------------------------------------------------


def crash_on_publish(monkeypatch: pytest.MonkeyPatch, store: LocalStorage) -> None:
    """Make the final rename into the key's place fail, as a crash between staging and publishing."""
    real_replace = os.replace

    def replace(src: Any, dst: Any) -> None:
        if Path(dst).parent != store.root / ".tmp":
            raise OSError("simulated crash before publish")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)


def temp_files(store: LocalStorage) -> list[Path]:
    return sorted((store.root / ".tmp").iterdir())


def test_local_put_bytes_crash_before_rename_leaves_the_old_object_intact(
    local_storage: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_storage.put_bytes("d/k.bin", b"old contents")
    crash_on_publish(monkeypatch, local_storage)
    with pytest.raises(OSError, match="simulated crash"):
        local_storage.put_bytes("d/k.bin", b"new contents that never land")
    monkeypatch.undo()

    assert local_storage.get_bytes("d/k.bin") == b"old contents"
    assert (local_storage.root / "d" / "k.bin").read_bytes() == b"old contents"
    assert listed(local_storage) == ["d/k.bin"]
    # The new bytes were staged in full under .tmp, never at the key; list() does not see them.
    assert [p.read_bytes() for p in temp_files(local_storage)] == [b"new contents that never land"]


def test_local_put_bytes_crash_while_writing_the_temp_leaves_nothing_at_the_key(
    local_storage: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_storage.put_bytes("k.bin", b"old")

    def fsync(fd: int) -> None:
        raise OSError("simulated crash mid-write")

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OSError, match="mid-write"):
        local_storage.put_bytes("k.bin", b"partial")
    with pytest.raises(OSError, match="mid-write"):
        local_storage.put_bytes("fresh.bin", b"partial")
    monkeypatch.undo()

    assert local_storage.get_bytes("k.bin") == b"old"
    assert local_storage.exists("fresh.bin") is False
    assert not (local_storage.root / "fresh.bin").exists()
    assert listed(local_storage) == ["k.bin"]


def test_local_put_file_crash_before_rename_leaves_the_old_object_intact(
    local_storage: LocalStorage, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    local_storage.put_bytes("d/k.parquet", b"old contents")
    replacement = tmp_path / "new.parquet"
    replacement.write_bytes(b"new contents")
    fresh = tmp_path / "fresh.parquet"
    fresh.write_bytes(b"fresh contents")
    crash_on_publish(monkeypatch, local_storage)
    with pytest.raises(OSError, match="simulated crash"):
        local_storage.put_file("d/k.parquet", replacement)
    with pytest.raises(OSError, match="simulated crash"):
        local_storage.put_file("d/fresh.parquet", fresh)
    monkeypatch.undo()

    assert local_storage.get_bytes("d/k.parquet") == b"old contents"
    assert not (local_storage.root / "d" / "fresh.parquet").exists()
    assert listed(local_storage) == ["d/k.parquet"]


def test_local_temp_files_live_under_dot_tmp_and_are_never_listed(
    local_storage: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    crash_on_publish(monkeypatch, local_storage)
    with pytest.raises(OSError):
        local_storage.put_bytes("a.bin", b"left behind")
    monkeypatch.undo()
    local_storage.put_bytes("b.bin", b"b")

    assert len(temp_files(local_storage)) == 1
    local_storage.put_bytes(".tmpish", b"an ordinary key that only starts like the temp folder")
    assert listed(local_storage) == [".tmpish", "b.bin"]
    assert listed(local_storage, ".") == [".tmpish"]
    assert listed(local_storage, ".tmp") == [".tmpish"]
    assert all(not o.key.startswith(".tmp/") for o in local_storage.list())


def test_local_create_exclusive_leaves_no_temp_files(local_storage: LocalStorage) -> None:
    assert local_storage.create_exclusive("k.bin", b"1") is True
    assert local_storage.create_exclusive("k.bin", b"2") is False
    local_storage.put_bytes("p.bin", b"p")
    assert temp_files(local_storage) == []


@pytest.mark.parametrize("key", [".tmp", ".tmp/put-abc", ".tmp/x/y.bin"])
def test_local_keys_inside_the_temp_folder_are_rejected(local_storage: LocalStorage, key: str) -> None:
    with pytest.raises(InvalidKey, match=r"\.tmp"):
        local_storage.put_bytes(key, b"hidden")
    with pytest.raises(InvalidKey, match=r"\.tmp"):
        local_storage.get_bytes(key)
    with pytest.raises(InvalidKey):
        list(local_storage.list(".tmp/"))


def test_local_reader_sees_the_old_or_the_new_object_never_a_torn_one(local_storage: LocalStorage) -> None:
    old, new = b"A" * 400_000, b"B" * 300_000
    local_storage.put_bytes("hot.bin", old)
    stop = threading.Event()

    def writer() -> None:
        for i in range(60):
            local_storage.put_bytes("hot.bin", new if i % 2 == 0 else old)
        stop.set()

    t = threading.Thread(target=writer)
    t.start()
    reads = 0
    while not stop.is_set() or reads < 20:
        data = local_storage.get_bytes("hot.bin")
        assert data in (old, new), f"torn read of {len(data)} bytes"
        reads += 1
    t.join()
    assert reads >= 20


def test_local_create_exclusive_under_thread_contention_has_exactly_one_winner(
    local_storage: LocalStorage,
) -> None:
    barrier = threading.Barrier(8)
    results: dict[int, bool] = {}

    def contender(i: int) -> None:
        barrier.wait()
        results[i] = local_storage.create_exclusive("contended.json", f"writer-{i}".encode())

    threads = [threading.Thread(target=contender, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [i for i, won in results.items() if won]
    assert len(winners) == 1
    assert local_storage.get_bytes("contended.json") == f"writer-{winners[0]}".encode()
