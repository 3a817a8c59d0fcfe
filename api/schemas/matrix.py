from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class MatrixSearchRequest(BaseModel):
    query: str = Field(description="What the caller is looking for, in plain words.")
    corpora: list[str] | None = Field(default=None, description="Corpora to search; default all.")
    k: int = Field(default=10, ge=1, le=200)
    filter: dict[str, Any] | None = Field(
        default=None,
        description='Metadata filter: {"state": "IL", "hourly_rate": {"lte": 30}, "shift": {"in": ["night"]}}.',
    )
    exclude_ids: list[str] = Field(default_factory=list, description="Entity ids to leave out (e.g. worker ids).")
    min_score: float | None = Field(default=None, ge=-1, le=2, description="Relevance floor; default the server's.")
    use_playbook: bool = Field(default=False, description="Boost workers endorsed for similar past queries.")
    model: str | None = Field(default=None, description="Model the caller means to act with (for the downgrade gate).")


class BoostOut(BaseModel):
    playbook_id: str
    query: str
    similarity: float
    effect: Literal["endorsed", "rejected"]
    outcome: str


class HitOut(BaseModel):
    corpus: str
    id: str
    entity: str
    entity_id: str
    score: float
    similarity: float
    distance: float
    boost: float
    metadata: dict[str, Any]
    snippet: str
    why: list[BoostOut]


class DowngradeOut(BaseModel):
    strong_needed: bool
    model: str | None
    reason: str


class MatrixSearchResponse(BaseModel):
    query: str
    corpora: list[str]
    hits: list[HitOut]
    downgrade: DowngradeOut
    playbooks_matched: int
    elapsed_ms: float


class PlaybookIn(BaseModel):
    query: str
    endorsed_ids: list[str | int] = Field(default_factory=list)
    rejected_ids: list[str | int] = Field(default_factory=list)
    outcome: Literal["success", "partial", "failure"] = "success"
    contract_id: str | None = None


class PlaybookBulkIn(BaseModel):
    records: list[PlaybookIn] = Field(min_length=1, max_length=1000)


class PlaybookRecordResponse(BaseModel):
    recorded: int
    playbook_ids: list[str]
    indexed: int
