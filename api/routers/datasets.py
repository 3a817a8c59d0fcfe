from __future__ import annotations

from fastapi import APIRouter

from api.deps import CatalogDep
from api.routing import Route
from api.schemas.datasets import DatasetList, ManifestOut
from api.schemas.errors import ErrorBody

router = APIRouter(prefix="/datasets", tags=["datasets"], route_class=Route)


@router.get("")
def list_datasets(catalog: CatalogDep) -> DatasetList:
    """Every dataset in the catalog with its live version and history."""
    catalog.refresh()
    return DatasetList(datasets=[ManifestOut.of(m) for m in catalog.list()])


@router.get("/{name}", responses={404: {"model": ErrorBody}})
def get_dataset(name: str, catalog: CatalogDep) -> ManifestOut:
    """One dataset's manifest: schema, fingerprint, live object and version history."""
    catalog.refresh()
    return ManifestOut.of(catalog.get(name))
