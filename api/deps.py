"""Annotated dependencies: routes declare what they need; tests override these.

The getters are `async def` on purpose: they only read app state, and FastAPI runs a plain `def`
dependency on the thread pool, one hop per dependency per request (about 0.3 ms each here).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from api.dagster_events import DagsterReporter
from api.settings import ApiSettings
from lakehouse_assets.core.catalog import Catalog
from lakehouse_assets.core.chat import ChatRouter
from lakehouse_assets.core.embedder import CachedEmbedder
from lakehouse_assets.core.jsonl import DailyJournal
from lakehouse_assets.core.matrix import MatrixSearch
from lakehouse_assets.core.observer import Observer
from lakehouse_assets.core.pathway import PathwayMemory
from lakehouse_assets.core.playbooks import PlaybookLog
from lakehouse_assets.core.sql import SqlEngine
from lakehouse_assets.core.storage import LakeStorage
from lakehouse_assets.core.validation import Roster
from lakehouse_assets.core.vectors import VectorStore


@dataclass
class Services:
    """What the lifespan opens and closes."""

    settings: ApiSettings
    lake: LakeStorage
    catalog: Catalog
    sql: SqlEngine
    dagster: DagsterReporter
    embedder: CachedEmbedder
    vectors: VectorStore
    matrix: MatrixSearch
    playbooks: PlaybookLog
    roster: Roster
    chat: ChatRouter
    sessions: DailyJournal
    pathway: PathwayMemory
    observer: Observer


async def get_services(request: Request) -> Services:
    return request.app.state.services


async def get_settings(services: Annotated[Services, Depends(get_services)]) -> ApiSettings:
    return services.settings


async def get_lake(services: Annotated[Services, Depends(get_services)]) -> LakeStorage:
    return services.lake


async def get_catalog(services: Annotated[Services, Depends(get_services)]) -> Catalog:
    return services.catalog


async def get_sql(services: Annotated[Services, Depends(get_services)]) -> SqlEngine:
    return services.sql


async def get_dagster(services: Annotated[Services, Depends(get_services)]) -> DagsterReporter:
    return services.dagster


SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
LakeDep = Annotated[LakeStorage, Depends(get_lake)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]
SqlDep = Annotated[SqlEngine, Depends(get_sql)]
DagsterDep = Annotated[DagsterReporter, Depends(get_dagster)]


async def get_embedder(services: Annotated[Services, Depends(get_services)]) -> CachedEmbedder:
    return services.embedder


async def get_vectors(services: Annotated[Services, Depends(get_services)]) -> VectorStore:
    return services.vectors


async def get_matrix(services: Annotated[Services, Depends(get_services)]) -> MatrixSearch:
    return services.matrix


async def get_playbooks(services: Annotated[Services, Depends(get_services)]) -> PlaybookLog:
    return services.playbooks


EmbedderDep = Annotated[CachedEmbedder, Depends(get_embedder)]
VectorsDep = Annotated[VectorStore, Depends(get_vectors)]
MatrixDep = Annotated[MatrixSearch, Depends(get_matrix)]
PlaybooksDep = Annotated[PlaybookLog, Depends(get_playbooks)]


async def get_roster(services: Annotated[Services, Depends(get_services)]) -> Roster:
    return services.roster


RosterDep = Annotated[Roster, Depends(get_roster)]


async def get_chat(services: Annotated[Services, Depends(get_services)]) -> ChatRouter:
    return services.chat


async def get_sessions(services: Annotated[Services, Depends(get_services)]) -> DailyJournal:
    return services.sessions


ChatDep = Annotated[ChatRouter, Depends(get_chat)]
SessionsDep = Annotated[DailyJournal, Depends(get_sessions)]


async def get_pathway(services: Annotated[Services, Depends(get_services)]) -> PathwayMemory:
    return services.pathway


PathwayDep = Annotated[PathwayMemory, Depends(get_pathway)]


async def get_observer(services: Annotated[Services, Depends(get_services)]) -> Observer:
    return services.observer


ObserverDep = Annotated[Observer, Depends(get_observer)]
