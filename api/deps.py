"""Annotated dependencies: routes declare what they need; tests override these.

The getters are `async def` on purpose: they only read app state, and FastAPI runs a plain `def`
dependency on the thread pool, one hop per dependency per request (about 0.3 ms each here). Each one
reads the request's app state itself rather than depending on a shared services getter: FastAPI solves every
sub-dependency on every request, and a getter with none is the cheapest it has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from api.dagster_events import DagsterReporter
from api.settings import ApiSettings
from lakehouse_assets.core.lake.catalog import Catalog
from lakehouse_assets.core.lake.handle import Lake
from lakehouse_assets.core.llm.chat import ChatRouter
from lakehouse_assets.core.llm.validation import Roster
from lakehouse_assets.core.memory.journal import DailyJournal
from lakehouse_assets.core.memory.observer import Observer
from lakehouse_assets.core.memory.pathway import PathwayMemory
from lakehouse_assets.core.memory.playbook_index import PlaybookWriter
from lakehouse_assets.core.retrieval.search import MatrixSearch
from lakehouse_assets.core.sql.engine import SqlEngine
from lakehouse_assets.core.vectors.embedder import CachedEmbedder
from lakehouse_assets.core.vectors.store import VectorStore


@dataclass
class Services:
    """What the lifespan opens and closes."""

    settings: ApiSettings
    lake: Lake
    sql: SqlEngine
    dagster: DagsterReporter
    embedder: CachedEmbedder
    vectors: VectorStore
    matrix: MatrixSearch
    playbooks: PlaybookWriter
    roster: Roster
    chat: ChatRouter
    sessions: DailyJournal
    pathway: PathwayMemory
    observer: Observer


def _services(request: Request) -> Services:
    return request.app.state.services


async def get_settings(request: Request) -> ApiSettings:
    return _services(request).settings


async def get_lake(request: Request) -> Lake:
    return _services(request).lake


async def get_catalog(request: Request) -> Catalog:
    return _services(request).lake.catalog


async def get_sql(request: Request) -> SqlEngine:
    return _services(request).sql


async def get_dagster(request: Request) -> DagsterReporter:
    return _services(request).dagster


SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
LakeDep = Annotated[Lake, Depends(get_lake)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]
SqlDep = Annotated[SqlEngine, Depends(get_sql)]
DagsterDep = Annotated[DagsterReporter, Depends(get_dagster)]


async def get_embedder(request: Request) -> CachedEmbedder:
    return _services(request).embedder


async def get_vectors(request: Request) -> VectorStore:
    return _services(request).vectors


async def get_matrix(request: Request) -> MatrixSearch:
    return _services(request).matrix


async def get_playbooks(request: Request) -> PlaybookWriter:
    return _services(request).playbooks


EmbedderDep = Annotated[CachedEmbedder, Depends(get_embedder)]
VectorsDep = Annotated[VectorStore, Depends(get_vectors)]
MatrixDep = Annotated[MatrixSearch, Depends(get_matrix)]
PlaybooksDep = Annotated[PlaybookWriter, Depends(get_playbooks)]


async def get_roster(request: Request) -> Roster:
    return _services(request).roster


RosterDep = Annotated[Roster, Depends(get_roster)]


async def get_chat(request: Request) -> ChatRouter:
    return _services(request).chat


async def get_sessions(request: Request) -> DailyJournal:
    return _services(request).sessions


ChatDep = Annotated[ChatRouter, Depends(get_chat)]
SessionsDep = Annotated[DailyJournal, Depends(get_sessions)]


async def get_pathway(request: Request) -> PathwayMemory:
    return _services(request).pathway


PathwayDep = Annotated[PathwayMemory, Depends(get_pathway)]


async def get_observer(request: Request) -> Observer:
    return _services(request).observer


ObserverDep = Annotated[Observer, Depends(get_observer)]
