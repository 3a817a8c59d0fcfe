"""The lakehouse HTTP service: create_app() and the lifespan that opens and closes its services."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
from fastapi import Depends, FastAPI
from threadpoolctl import threadpool_limits

from api.dagster_events import DagsterReporter
from api.deps import Services
from api.errors import install_error_handlers
from api.gate import Gate
from api.limits import BodyLimit, ConcurrencyLimit
from api.observe import ObserverMiddleware, route_templates
from api.routers import chat, datasets, health, ingest, iterate, matrix, observer, pathway, sql, validate, vectors
from api.security import bearer_scheme
from api.settings import ApiSettings
from api.slots import Slots
from lakehouse_assets.core.lake.handle import Lake
from lakehouse_assets.core.llm.chat import chat_router_from_settings
from lakehouse_assets.core.llm.downgrade import DowngradePolicy
from lakehouse_assets.core.llm.validation import Roster
from lakehouse_assets.core.memory.journal import DailyJournal
from lakehouse_assets.core.memory.observer import Observer
from lakehouse_assets.core.memory.pathway import PathwayMemory
from lakehouse_assets.core.memory.playbook_index import PlaybookWriter
from lakehouse_assets.core.memory.playbook_recent import RecentPlaybooks
from lakehouse_assets.core.memory.playbooks import PlaybookLog
from lakehouse_assets.core.retrieval.corpora import CORPORA
from lakehouse_assets.core.retrieval.frame_cache import catalog_frames
from lakehouse_assets.core.retrieval.search import MatrixSearch
from lakehouse_assets.core.sql.engine import SqlEngine
from lakehouse_assets.core.vectors.embedder import embedder_from_settings, instant_embedder
from lakehouse_assets.core.vectors.store import open_vector_store

log = logging.getLogger(__name__)


def open_services(settings: ApiSettings) -> Services:
    lake = Lake.open(settings)
    engine = SqlEngine(
        lake.catalog,
        timeout_ms=settings.sql_timeout_ms,
        max_rows=settings.sql_max_rows,
        rows_ceiling=settings.sql_rows_ceiling,
        max_timeout_ms=settings.sql_max_timeout_ms,
        memory_limit=settings.sql_memory_limit,
        max_temp_size=settings.sql_max_temp_size,
        max_result_bytes=settings.sql_max_result_bytes,
        refresh_seconds=settings.catalog_refresh_seconds,
    )
    embedder = embedder_from_settings(settings)
    instant = instant_embedder(settings) if settings.search_instant_tier else None
    vectors = open_vector_store(settings)
    chat = chat_router_from_settings(settings)
    recent = RecentPlaybooks(PlaybookLog(settings.playbook_log_path), embedder)
    matrix = MatrixSearch(
        vectors,
        embedder,
        min_score=settings.relevance_floor,
        policy=DowngradePolicy(weak_models=tuple(settings.weak_models), weak_model=settings.weak_model),
        frames=catalog_frames(
            lake,
            CORPORA,
            settings.catalog_refresh_seconds,
            store=vectors,
            tiers=("full", "instant") if instant is not None else ("full",),
            sync_vectors=settings.search_vectors_sync_max,
            follow_seconds=settings.search_vectors_follow_seconds,
        ),
        chat=chat,
        llm_model=settings.search_llm_model,
        llm_tier=settings.search_llm_tier,
        instant=instant,
        recent=recent,
    )
    return Services(
        settings,
        lake,
        engine,
        DagsterReporter(settings.report_to_dagster),
        embedder,
        vectors,
        matrix,
        PlaybookWriter(recent, store=vectors, hnsw=settings.hnsw),
        Roster(
            lake,
            settings.roster_dataset,
            refresh_seconds=settings.catalog_refresh_seconds,
            max_candidates=settings.fill_max_candidates,
        ),
        chat,
        DailyJournal(settings.session_log_dir),
        PathwayMemory(settings.pathway_log_path, embed=embedder.embed),
        Observer(
            DailyJournal(settings.observer_log_dir),
            ring_size=settings.observer_ring_size,
            sample_rate=settings.observer_sample_rate,
        ),
    )


def _warm(services: Services) -> None:
    """Ready what the first searches need, cheapest first: the facet frames (a constrained search of an index
    that holds nothing yet needs only them), then the query encoder, then the keyword indexes."""
    steps: tuple[tuple[str, Callable[[], object]], ...] = (
        ("the search frames could not be built; the first search will try again", services.matrix.warm_frames),
        (
            "the embedder could not be loaded; search and embed requests will fail until it can",
            lambda: services.embedder.embed(["warm up"]),
        ),
        ("the keyword indexes could not be built; the first hybrid search will try again", services.matrix.warm),
    )
    for failure, step in steps:
        try:
            step()
        except Exception:
            log.exception(failure)


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    settings = settings or ApiSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = open_services(settings)
        services.dagster.warm()
        if settings.warm_embedder:
            threading.Thread(target=_warm, args=(services,), name="embedder-warm", daemon=True).start()
        app.state.services = services
        # Every request the in-flight cap admits can have a thread (AnyIO's default is 40, fewer than the cap),
        # and slow kinds of work are bounded on their own (api/slots.py): the cap is what turns callers away.
        threads = anyio.to_thread.current_default_thread_limiter()
        threads.total_tokens = max(threads.total_tokens, settings.api_max_in_flight + 16)
        try:
            # Requests run side by side on the thread pool, so a BLAS call must not fan out over the cores too:
            # OpenBLAS's threads then spin against each other (a 1,700-row matrix-vector product from 20
            # request threads took 2.8 ms each, 23 us with one BLAS thread per call).
            with threadpool_limits(1, user_api="blas"):
                yield
        finally:
            # Records are journaled (and indexed by the next playbooks run in any case): a short wait, not a hang.
            services.playbooks.flush(timeout=10)
            services.sql.close()
            services.dagster.close()
            services.chat.close()
            services.observer.close()

    app = FastAPI(
        title="lakehouse",
        version="0.1.0",
        description="SQL, ingest, search, chat and validation over the lakehouse's datasets.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.state.slots = Slots(settings.slot_limits())
    # The last added runs first: the gate decides before anything reads a body, so the observer, the cap
    # and the body limits only see authorized work; the observer also witnesses requests the cap turns away.
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.api_max_body_bytes,
        timeout=settings.api_body_timeout_seconds,
        exempt={"/v1/ingest": settings.ingest_body_timeout_seconds},
    )
    app.add_middleware(ConcurrencyLimit, max_in_flight=settings.api_max_in_flight)
    app.add_middleware(ObserverMiddleware)
    app.add_middleware(Gate, settings=settings)
    app.include_router(health.router)
    # Each domain router straight onto the app under /v1 (not through a /v1 router of routers): every
    # level of nesting is one more routing pass per request.
    domains = (datasets, ingest, sql, matrix, vectors, validate, iterate, chat, pathway, observer)
    versioned = (*(module.router for module in domains), vectors.embed_router)
    for router in versioned:
        # the gate checks the token; this declares the scheme in OpenAPI (the /docs "Authorize" button)
        app.include_router(router, prefix="/v1", dependencies=[Depends(bearer_scheme)])
    app.state.route_templates = route_templates([("", health.router), *(("/v1", router) for router in versioned)])
    return app


def app_from_env() -> FastAPI:
    """Uvicorn factory: `uvicorn --factory api.main:app_from_env`."""
    os.environ.setdefault("LAKEHOUSE_HOME", ".lakehouse")
    return create_app()
