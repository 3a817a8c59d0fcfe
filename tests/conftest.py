"""Shared fixtures: a throwaway lake home per test, and the storage/catalog built from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse_assets.core.catalog import Catalog
from lakehouse_assets.core.settings import LakehouseSettings
from lakehouse_assets.core.storage import LakeStorage, open_storage


@pytest.fixture
def settings(tmp_path: Path) -> LakehouseSettings:
    return LakehouseSettings(home=tmp_path / "lake", _env_file=None)


@pytest.fixture
def lake(settings: LakehouseSettings) -> LakeStorage:
    return open_storage(settings)


@pytest.fixture
def catalog(lake: LakeStorage) -> Catalog:
    return Catalog(lake)
