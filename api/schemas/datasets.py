from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from lakehouse_assets.core.lake.catalog import Manifest


class ColumnOut(BaseModel):
    name: str
    type: str


class VersionOut(BaseModel):
    version: int
    object_key: str
    content_hash: str
    row_count: int
    byte_size: int
    created_at: str
    source: str
    columns_added: list[str] = Field(default_factory=list, description="Columns this version added (additive).")
    snapshot_id: int | None = Field(default=None, description="The Iceberg snapshot this version is.")
    files: list[str] = Field(default_factory=list, description="The version's data files (lake keys).")


class ManifestOut(BaseModel):
    name: str
    dataset_id: str
    schema_: list[ColumnOut] = Field(alias="schema", description="Columns in order.")
    fingerprint: str
    version: int
    object_key: str
    row_count: int
    byte_size: int
    created_at: str
    updated_at: str
    versions: list[VersionOut]

    model_config = ConfigDict(populate_by_name=True)

    @classmethod
    def of(cls, manifest: Manifest) -> ManifestOut:
        body = manifest.to_dict()
        for version, out in zip(manifest.versions, body["versions"], strict=True):
            out["files"] = list(version.data_files)
        return cls.model_validate(body)


class DatasetList(BaseModel):
    datasets: list[ManifestOut]
