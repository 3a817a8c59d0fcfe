"""Core exceptions -> HTTP errors, registered once. Every error body is an ErrorBody."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.openai_wire import OPENAI_PATHS, openai_error
from api.routing import InvalidText
from api.slots import Overloaded
from api.upload import BadUpload, UnsupportedMediaType
from lakehouse_assets.core.ingest.csv import TooLarge
from lakehouse_assets.core.ingest.exceptions import BadCsv
from lakehouse_assets.core.lake.catalog import (
    DatasetNotFound,
    DatasetOwned,
    InvalidDatasetName,
    SchemaConflict,
    format_schema,
)
from lakehouse_assets.core.lake.storage import InvalidKey
from lakehouse_assets.core.llm.chat import ChatError, UpstreamError, UpstreamRateLimited
from lakehouse_assets.core.llm.iterate import InvalidIterateRequest
from lakehouse_assets.core.llm.validation import UnknownKind, ValidationFailed
from lakehouse_assets.core.memory.observer import InvalidOp
from lakehouse_assets.core.memory.pathway import PathwayError, TraceNotFound, TraceRetired
from lakehouse_assets.core.memory.playbooks import InvalidPlaybook
from lakehouse_assets.core.retrieval.exceptions import SearchError
from lakehouse_assets.core.sql.engine import SqlError, SqlRefused, SqlTimeout
from lakehouse_assets.core.vectors.embedder import EmbeddingError, EmptyText
from lakehouse_assets.core.vectors.exceptions import IndexConflict, IndexNotFound, InvalidIndexRequest, VectorStoreError

log = logging.getLogger(__name__)


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    body = {"error": code, "message": message, **{k: v for k, v in extra.items() if v is not None}}
    return JSONResponse(status_code=status, content=body)


def _speaks_openai(request: Request) -> bool:
    """The OpenAI-compatible route answers errors in OpenAI's shape, which OpenAI clients parse."""
    return request.url.path in OPENAI_PATHS


def _schema(cols: Any) -> list[dict[str, str]]:
    return [{"name": c.name, "type": c.type} for c in cols]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Exception)
    def _unexpected(_: Request, e: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return error_response(500, "internal", f"internal error: {type(e).__name__}")

    @app.exception_handler(BadCsv)
    def _bad_csv(_: Request, e: BadCsv) -> JSONResponse:
        return error_response(400, "bad_csv", str(e), line=e.line)

    @app.exception_handler(BadUpload)
    def _bad_upload(_: Request, e: BadUpload) -> JSONResponse:
        return error_response(400, "bad_upload", str(e))

    @app.exception_handler(UnsupportedMediaType)
    def _media(_: Request, e: UnsupportedMediaType) -> JSONResponse:
        return error_response(415, "unsupported_media_type", str(e))

    @app.exception_handler(TooLarge)
    def _too_large(_: Request, e: TooLarge) -> JSONResponse:
        return error_response(413, "too_large", str(e), limit_bytes=e.limit)

    @app.exception_handler(InvalidDatasetName)
    def _bad_name(_: Request, e: InvalidDatasetName) -> JSONResponse:
        return error_response(400, "invalid_name", str(e))

    @app.exception_handler(InvalidKey)
    def _bad_key(_: Request, e: InvalidKey) -> JSONResponse:
        return error_response(400, "invalid_key", str(e))

    @app.exception_handler(DatasetNotFound)
    def _not_found(_: Request, e: DatasetNotFound) -> JSONResponse:
        return error_response(404, "not_found", str(e))

    @app.exception_handler(SchemaConflict)
    def _conflict(_: Request, e: SchemaConflict) -> JSONResponse:
        return error_response(
            409,
            "schema_conflict",
            str(e),
            details={
                "dataset": e.name,
                "live_schema": _schema(e.live),
                "new_schema": _schema(e.new),
                "live": format_schema(e.live),
                "new": format_schema(e.new),
            },
        )

    @app.exception_handler(DatasetOwned)
    def _owned(_: Request, e: DatasetOwned) -> JSONResponse:
        return error_response(409, "owned_by_assets", str(e))

    @app.exception_handler(SqlTimeout)
    def _sql_timeout(_: Request, e: SqlTimeout) -> JSONResponse:
        return error_response(400, "sql_timeout", str(e), timeout_ms=e.timeout_ms)

    @app.exception_handler(SqlRefused)
    def _sql_refused(_: Request, e: SqlRefused) -> JSONResponse:
        return error_response(400, "sql_refused", str(e))

    @app.exception_handler(SqlError)
    def _sql_error(_: Request, e: SqlError) -> JSONResponse:
        return error_response(400, "sql_error", str(e))

    @app.exception_handler(IndexNotFound)
    def _no_index(_: Request, e: IndexNotFound) -> JSONResponse:
        return error_response(404, "not_found", str(e))

    @app.exception_handler(IndexConflict)
    def _index_conflict(_: Request, e: IndexConflict) -> JSONResponse:
        return error_response(409, "index_conflict", str(e))

    @app.exception_handler(InvalidIndexRequest)
    def _bad_index_request(_: Request, e: InvalidIndexRequest) -> JSONResponse:
        return error_response(400, "invalid_request", str(e))

    @app.exception_handler(VectorStoreError)
    def _store_down(_: Request, e: VectorStoreError) -> JSONResponse:
        response = error_response(503, "vector_store_unavailable", str(e))
        response.headers["Retry-After"] = "1"  # Chroma restarting, or a segment not flushed yet
        return response

    @app.exception_handler(SearchError)
    def _bad_search(_: Request, e: SearchError) -> JSONResponse:
        return error_response(400, "invalid_search", str(e))

    @app.exception_handler(EmptyText)
    def _empty_text(_: Request, e: EmptyText) -> JSONResponse:
        return error_response(400, "empty_text", str(e))

    @app.exception_handler(EmbeddingError)
    def _embedder_down(_: Request, e: EmbeddingError) -> JSONResponse:
        return error_response(502, "embedder_unavailable", str(e))

    @app.exception_handler(InvalidPlaybook)
    def _bad_playbook(_: Request, e: InvalidPlaybook) -> JSONResponse:
        return error_response(400, "invalid_playbook", str(e))

    @app.exception_handler(ValidationFailed)
    def _invalid_proposal(_: Request, e: ValidationFailed) -> JSONResponse:
        return JSONResponse(status_code=422, content=e.to_json())

    @app.exception_handler(UnknownKind)
    def _unknown_kind(_: Request, e: UnknownKind) -> JSONResponse:
        return error_response(400, "unknown_kind", str(e))

    @app.exception_handler(ChatError)
    def _chat_failed(request: Request, e: ChatError) -> JSONResponse:
        headers = {}
        if isinstance(e, UpstreamRateLimited):
            headers["Retry-After"] = str(max(1, math.ceil(e.retry_after))) if e.retry_after is not None else "1"
        if _speaks_openai(request):
            return JSONResponse(openai_error(e.status, str(e), e.code), status_code=e.status, headers=headers)
        response = error_response(
            e.status,
            e.code,
            str(e),
            upstream_status=e.upstream_status if isinstance(e, UpstreamError) else None,
            retry_after=getattr(e, "retry_after", None),
            # every try, when there was more than the one this message already describes
            attempts=[f.to_json() for f in e.failed_attempts] if len(e.failed_attempts) > 1 else None,
        )
        response.headers.update(headers)
        return response

    @app.exception_handler(InvalidOp)
    def _bad_op(_: Request, e: InvalidOp) -> JSONResponse:
        return error_response(400, "invalid_op", str(e))

    @app.exception_handler(TraceNotFound)
    def _no_trace(_: Request, e: TraceNotFound) -> JSONResponse:
        return error_response(404, "not_found", str(e))

    @app.exception_handler(TraceRetired)
    def _retired(_: Request, e: TraceRetired) -> JSONResponse:
        return error_response(409, "trace_retired", str(e))

    @app.exception_handler(PathwayError)
    def _bad_trace(_: Request, e: PathwayError) -> JSONResponse:
        return error_response(400, "invalid_trace", str(e))

    @app.exception_handler(InvalidIterateRequest)
    def _bad_iterate(_: Request, e: InvalidIterateRequest) -> JSONResponse:
        return error_response(400, "invalid_request", str(e))

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in err.get("loc", ()) if p != "body"), "reason": err.get("msg")}
            for err in e.errors()
        ]
        message = "; ".join(f"{p['field'] or 'body'}: {p['reason']}" for p in problems)
        if _speaks_openai(request):
            return JSONResponse(openai_error(400, message or "invalid request", "invalid_request"), status_code=400)
        return error_response(400, "invalid_request", message or "invalid request", details=problems)

    @app.exception_handler(Overloaded)
    def _overloaded(request: Request, e: Overloaded) -> JSONResponse:
        headers = {"Retry-After": "1"}
        if _speaks_openai(request):
            return JSONResponse(openai_error(503, str(e), "overloaded"), status_code=503, headers=headers)
        response = error_response(503, "overloaded", str(e), limit=e.limit)
        response.headers.update(headers)
        return response

    @app.exception_handler(InvalidText)
    def _invalid_text(request: Request, e: InvalidText) -> JSONResponse:
        if _speaks_openai(request):
            return JSONResponse(openai_error(400, str(e.detail), "invalid_request"), status_code=400)
        details = [{"field": e.field, "reason": "holds a lone UTF-16 surrogate"}]
        return error_response(400, "invalid_request", str(e.detail), details=details)

    @app.exception_handler(StarletteHTTPException)
    def _http(_: Request, e: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 408: "timeout", 413: "too_large"}.get(
            e.status_code, "http_error"
        )
        response = error_response(e.status_code, code, str(e.detail))
        for k, v in (e.headers or {}).items():
            response.headers[k] = v
        return response
