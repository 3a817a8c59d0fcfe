"""Shared fixtures: a throwaway lake home per test, a real S3-compatible server (moto, over HTTP),
and both lake backends."""

from __future__ import annotations

import io
import itertools
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pyarrow.fs as pafs
import pytest
from moto.server import ThreadedMotoServer

from lakehouse_assets.core.ingest.csv import IngestLimits, ingest_csv
from lakehouse_assets.core.lake.catalog import Catalog
from lakehouse_assets.core.lake.handle import Lake
from lakehouse_assets.core.lake.storage import LakeStorage, LocalStorage, S3Storage
from lakehouse_assets.core.llm.validation import Roster
from lakehouse_assets.core.settings import LakehouseSettings
from tests.fakes.llm_servers import FakeLLMServer

# Test apps load the embedding model only when a test embeds (it takes seconds of a shared CPU).
os.environ.setdefault("LAKEHOUSE_WARM_EMBEDDER", "false")
# The int8 export and the static model are built once per test session, not once per test's lake.
os.environ.setdefault("LAKEHOUSE_EMBED_MODELS_DIR", tempfile.mkdtemp(prefix="lakehouse-test-models-"))

S3_REGION = "us-east-1"
S3_ACCESS_KEY = "testing"
S3_SECRET_KEY = "testing"

_bucket_numbers = itertools.count(1)


@dataclass(frozen=True)
class S3Endpoint:
    host: str
    port: int

    @property
    def host_port(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host_port}"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[S3Endpoint]:
    """One moto S3 server for the whole session, on a free port, stopped at the end."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield S3Endpoint(host, port)
    finally:
        server.stop()


def make_s3_client(endpoint: S3Endpoint) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint.url,
        region_name=S3_REGION,
        aws_access_key_id=S3_ACCESS_KEY,
        aws_secret_access_key=S3_SECRET_KEY,
    )


def make_arrow_s3(endpoint: S3Endpoint) -> pafs.S3FileSystem:
    return pafs.S3FileSystem(
        endpoint_override=endpoint.host_port,
        scheme="http",
        access_key=S3_ACCESS_KEY,
        secret_key=S3_SECRET_KEY,
        region=S3_REGION,
    )


@pytest.fixture
def s3_client(s3_endpoint: S3Endpoint) -> Any:
    return make_s3_client(s3_endpoint)


@pytest.fixture
def s3_arrow_fs(s3_endpoint: S3Endpoint) -> pafs.S3FileSystem:
    return make_arrow_s3(s3_endpoint)


@pytest.fixture
def s3_bucket(s3_client: Any) -> str:
    """A fresh, empty bucket per test (a valid S3 bucket name)."""
    name = f"lake-test-{next(_bucket_numbers)}-{uuid.uuid4().hex[:8]}"
    s3_client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_storage(
    s3_client: Any, s3_bucket: str, s3_arrow_fs: pafs.S3FileSystem, s3_endpoint: S3Endpoint, tmp_path: Path
) -> S3Storage:
    return S3Storage(
        s3_client,
        s3_bucket,
        arrow_fs=s3_arrow_fs,
        file_io=s3_file_io(s3_endpoint),
        catalog_uri=f"sqlite:///{tmp_path / 'catalog.db'}",
    )


def s3_file_io(endpoint: S3Endpoint) -> dict[str, str]:
    """pyiceberg FileIO properties that reach the test S3 server."""
    return {
        "s3.endpoint": endpoint.url,
        "s3.access-key-id": S3_ACCESS_KEY,
        "s3.secret-access-key": S3_SECRET_KEY,
        "s3.region": S3_REGION,
    }


@pytest.fixture
def local_storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "lake")


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest) -> LakeStorage:
    """The same behaviour tests run over a local folder and over S3 (moto over HTTP)."""
    return request.getfixturevalue(f"{request.param}_storage")


@pytest.fixture
def settings(tmp_path: Path) -> LakehouseSettings:
    return LakehouseSettings(home=tmp_path / "lake", _env_file=None)


@pytest.fixture
def lake(settings: LakehouseSettings) -> Lake:
    """The local lake of `settings`: storage, catalog and scratch."""
    return Lake.open(settings)


@pytest.fixture
def catalog(lake: Lake) -> Catalog:
    return lake.catalog


@pytest.fixture(scope="session")
def chroma_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real Chroma server (`chroma run`) for the whole session, on a free port, stopped at the end."""
    from tests.chroma_server import run_chroma_server

    with run_chroma_server(tmp_path_factory.mktemp("chroma-server")) as url:
        yield url


@pytest.fixture
def make_roster(lake: Lake) -> Callable[[bytes], Roster]:
    """Ingest a roster CSV as the `workers` dataset and return the Roster that validates fills against it."""

    def make(csv: bytes) -> Roster:
        ingest_csv(io.BytesIO(csv), "workers", lake=lake, limits=IngestLimits())
        return Roster(lake)

    return make


@pytest.fixture
def ollama() -> Iterator[FakeLLMServer]:
    """A fake local Ollama (no key) on loopback."""
    with FakeLLMServer("ollama") as server:
        yield server


@pytest.fixture
def openrouter() -> Iterator[FakeLLMServer]:
    """A fake OpenRouter: OpenAI-compatible under /api/v1, key `or-key`."""
    with FakeLLMServer("openai", api_key="or-key", base_path="/api/v1") as server:
        yield server
