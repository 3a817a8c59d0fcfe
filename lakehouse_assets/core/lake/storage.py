"""Lake storage: one interface, two backends (a local folder, or an S3-compatible bucket).

Everything the lake holds is an object under a validated key. Writes are atomic: a reader sees the
old object or the new one, never a torn one. `create_exclusive` writes only if the key is absent;
the catalog builds its lost-update-free registration on it (O_EXCL-style link locally,
`If-None-Match: *` on S3).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.fs as pafs

from lakehouse_assets.core.errors import LakehouseError

if TYPE_CHECKING:
    from lakehouse_assets.core.settings import LakehouseSettings

MAX_KEY_BYTES = 1024
CATALOG_DB = "catalog.db"  # a local lake's Iceberg catalog (SQLite), at its root


class InvalidKey(LakehouseError, ValueError):
    """A key that could escape the lake or confuse a backend."""

    status = 400
    code = "invalid_key"


class ObjectNotFound(LakehouseError, KeyError):
    status = 404
    code = "not_found"

    def __str__(self) -> str:
        return f"no object at key {self.args[0]!r}"


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    version_tag: str  # changes whenever the object is rewritten (mtime+size locally, ETag on S3)


def validate_key(key: str) -> str:
    """Return `key` if it is a safe object key; raise InvalidKey naming the problem otherwise."""
    if not key:
        raise InvalidKey("key is empty")
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidKey(f"key {key!r} is not valid UTF-8 (it holds a lone surrogate)") from None
    if len(encoded) > MAX_KEY_BYTES:
        raise InvalidKey(f"key is longer than {MAX_KEY_BYTES} bytes")
    if key.startswith("/"):
        raise InvalidKey(f"key {key!r} starts with '/'")
    bad = next((c for c in key if ord(c) < 0x20 or ord(c) == 0x7F), None)
    if bad is not None:
        raise InvalidKey(f"key {key!r} contains control character {ord(bad):#04x}")
    parts = key.split("/")
    if any(p in ("..", ".") for p in parts):
        raise InvalidKey(f"key {key!r} has a '.' or '..' path component")
    if any(p == "" for p in parts[:-1]) or key.endswith("/"):
        raise InvalidKey(f"key {key!r} has an empty path component")
    return key


def _validate_prefix(prefix: str) -> str:
    """A list() prefix: empty (everything), a folder-like key and one '/', or a key's leading part."""
    if prefix.endswith("/"):
        validate_key(prefix[:-1])
    elif prefix:
        head, _, last = prefix.rpartition("/")
        if last not in (".", ".."):
            validate_key(prefix)
        elif head:  # a partial last name: "." may begin ".hidden"
            validate_key(head)
    return prefix


class LakeStorage(ABC):
    """Object storage for the lake. Keys are validated by every method."""

    @abstractmethod
    def put_file(self, key: str, path: Path) -> None:
        """Store the file at `path` under `key` atomically. The source file may be moved away."""

    @abstractmethod
    def put_bytes(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    def create_exclusive(self, key: str, data: bytes) -> bool:
        """Write `data` only if nothing is stored at `key`. False when the key already exists."""

    @abstractmethod
    def get_bytes(self, key: str) -> bytes: ...

    @abstractmethod
    def download(self, key: str, dest: Path) -> None: ...

    @abstractmethod
    def info(self, key: str) -> ObjectInfo | None: ...

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Objects whose key starts with `prefix` (a folder-like prefix ending in '/')."""

    @abstractmethod
    def delete(self, key: str) -> None: ...

    @abstractmethod
    def arrow_location(self, key: str) -> tuple[pafs.FileSystem, str]:
        """A pyarrow filesystem and path to read the object in place (Parquet scans)."""

    @abstractmethod
    def local_path(self, key: str) -> Path | None:
        """The object's path on this machine when the lake is a local folder, else None."""

    @abstractmethod
    def describe(self) -> str:
        """A URL-like name for messages and metadata: file:///... or s3://bucket/prefix."""

    @abstractmethod
    def location(self, key: str) -> str:
        """The object's location as other engines name it (Iceberg's file paths): an absolute local path, or
        s3://bucket/prefix/key."""

    @abstractmethod
    def file_io_properties(self) -> dict[str, str]:
        """pyiceberg FileIO properties that reach this lake (endpoint and credentials for S3)."""

    @abstractmethod
    def default_catalog_uri(self) -> str:
        """The SQL catalog this lake's tables are in when no other is set."""

    def key_at(self, location: str) -> str | None:
        """The key of the object at `location`, or None when it is not in this lake."""
        base = self.location("x")[:-1]
        return validate_key(location[len(base) :]) if location.startswith(base) else None

    def exists(self, key: str) -> bool:
        return self.info(key) is not None


class LocalStorage(LakeStorage):
    """A folder on this machine. Temp file + rename for atomic writes, link() for exclusive ones."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._tmp = self.root / ".tmp"
        self._tmp.mkdir(exist_ok=True)

    def _path(self, key: str) -> Path:
        if validate_key(key).split("/", 1)[0] == ".tmp":
            raise InvalidKey(f"key {key!r} is inside '.tmp', which holds the local lake's temp files")
        return self.root / key

    def _temp_for(self, data: bytes) -> Path:
        fd, name = tempfile.mkstemp(dir=self._tmp, prefix="put-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        return Path(name)

    def put_file(self, key: str, path: Path) -> None:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        staged = self._tmp / f"put-{uuid.uuid4().hex}"
        try:
            os.replace(path, staged)  # same filesystem: a move, no copy
        except OSError:
            shutil.copyfile(path, staged)
        with open(staged, "rb") as f:
            os.fsync(f.fileno())
        os.replace(staged, dest)

    def put_bytes(self, key: str, data: bytes) -> None:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._temp_for(data), dest)

    def create_exclusive(self, key: str, data: bytes) -> bool:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._temp_for(data)
        try:
            os.link(tmp, dest)  # atomic, fails if dest exists; readers never see a partial file
            return True
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(key) from None

    def download(self, key: str, dest: Path) -> None:
        src = self._path(key)
        if not src.is_file():
            raise ObjectNotFound(key)
        shutil.copyfile(src, dest)

    def info(self, key: str) -> ObjectInfo | None:
        try:
            st = self._path(key).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not os.path.isfile(self._path(key)):
            return None
        return ObjectInfo(key, st.st_size, f"{st.st_mtime_ns}-{st.st_size}")

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        if prefix.startswith(".tmp/"):
            raise InvalidKey(f"prefix {prefix!r} is inside '.tmp', which holds the local lake's temp files")
        base = self.root / _validate_prefix(prefix) if prefix else self.root
        if prefix and not prefix.endswith("/"):
            base = base.parent
        if not base.is_dir():
            return
        found: list[tuple[str, Path]] = []
        for dirpath, dirnames, filenames in os.walk(base):
            if Path(dirpath) == self.root:
                dirnames[:] = [d for d in dirnames if d != ".tmp"]
            for fn in filenames:
                full = Path(dirpath) / fn
                key = full.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    found.append((key, full))
        # Sorted by key as S3 lists (UTF-8 byte order equals code point order), not in walk order.
        for key, full in sorted(found):
            try:
                st = full.stat()
            except FileNotFoundError:
                continue
            yield ObjectInfo(key, st.st_size, f"{st.st_mtime_ns}-{st.st_size}")

    def delete(self, key: str) -> None:
        # A folder-like prefix, or a path below an object, holds no object: a no-op, as on S3.
        with contextlib.suppress(IsADirectoryError, NotADirectoryError):
            self._path(key).unlink(missing_ok=True)

    def arrow_location(self, key: str) -> tuple[pafs.FileSystem, str]:
        return pafs.LocalFileSystem(), str(self._path(key))

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def describe(self) -> str:
        return self.root.as_uri()

    def location(self, key: str) -> str:
        return str(self._path(key))

    def file_io_properties(self) -> dict[str, str]:
        return {}

    def default_catalog_uri(self) -> str:
        """The SQLite file the lake's Iceberg catalog lives in when no other catalog is set."""
        return f"sqlite:///{self.root / CATALOG_DB}"


class S3Storage(LakeStorage):
    """An S3-compatible bucket (AWS S3, MinIO, ...) through a boto3 client, under an optional prefix.

    S3 PUTs are atomic per object; `create_exclusive` uses a conditional PUT (If-None-Match: *).
    """

    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str = "",
        *,
        arrow_fs: pafs.S3FileSystem | None = None,
        file_io: dict[str, str] | None = None,
        catalog_uri: str | None = None,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        if self.prefix:
            validate_key(self.prefix.rstrip("/"))
        self._arrow_fs = arrow_fs
        self._file_io = dict(file_io or {})
        self._catalog_uri = catalog_uri

    def _k(self, key: str) -> str:
        return self.prefix + validate_key(key)

    def put_file(self, key: str, path: Path) -> None:
        self.client.upload_file(str(path), self.bucket, self._k(key))

    def put_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._k(key), Body=data)

    def create_exclusive(self, key: str, data: bytes) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=self._k(key), Body=data, IfNoneMatch="*")
            return True
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code")
            if code in ("PreconditionFailed", "ConditionalRequestConflict"):
                return False
            raise

    def get_bytes(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._k(key))["Body"].read()
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise ObjectNotFound(key) from None
            raise

    def download(self, key: str, dest: Path) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.download_file(self.bucket, self._k(key), str(dest))
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise ObjectNotFound(key) from None
            raise

    def info(self, key: str) -> ObjectInfo | None:
        from botocore.exceptions import ClientError

        try:
            h = self.client.head_object(Bucket=self.bucket, Key=self._k(key))
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return None
            raise
        return ObjectInfo(key, int(h["ContentLength"]), h["ETag"].strip('"'))

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + _validate_prefix(prefix)):
            for obj in page.get("Contents", []):
                yield ObjectInfo(obj["Key"][len(self.prefix) :], int(obj["Size"]), obj["ETag"].strip('"'))

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._k(key))

    def arrow_location(self, key: str) -> tuple[pafs.FileSystem, str]:
        if self._arrow_fs is None:
            raise RuntimeError("this S3Storage was built without a pyarrow filesystem")
        return self._arrow_fs, f"{self.bucket}/{self._k(key)}"

    def local_path(self, key: str) -> Path | None:
        validate_key(key)
        return None

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._k(key)}"

    def file_io_properties(self) -> dict[str, str]:
        return dict(self._file_io)

    def default_catalog_uri(self) -> str:
        if self._catalog_uri is None:
            raise ValueError("an S3 lake keeps its catalog in a database: give S3Storage a catalog_uri")
        return self._catalog_uri


def open_storage(settings: LakehouseSettings) -> LakeStorage:
    """The lake the settings describe: S3 when a bucket is set, else the local folder."""
    if not settings.s3_bucket:
        return LocalStorage(settings.home)
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key_id,
        aws_secret_access_key=settings.s3_secret_access_key,
    )
    arrow_kwargs: dict[str, Any] = {"region": settings.s3_region}
    if settings.s3_access_key_id:
        arrow_kwargs.update(access_key=settings.s3_access_key_id, secret_key=settings.s3_secret_access_key)
    if settings.s3_endpoint_url:
        scheme, _, rest = settings.s3_endpoint_url.partition("://")
        arrow_kwargs.update(endpoint_override=rest.rstrip("/"), scheme=scheme or "https")
    file_io = {"s3.region": settings.s3_region}
    if settings.s3_access_key_id:
        file_io.update({"s3.access-key-id": settings.s3_access_key_id})
        file_io.update({"s3.secret-access-key": settings.s3_secret_access_key or ""})
    if settings.s3_endpoint_url:
        file_io["s3.endpoint"] = settings.s3_endpoint_url
    return S3Storage(
        client,
        settings.s3_bucket,
        settings.s3_prefix,
        arrow_fs=pafs.S3FileSystem(**arrow_kwargs),
        file_io=file_io,
        catalog_uri=f"sqlite:///{Path(settings.home).resolve() / CATALOG_DB}",
    )
