"""Errors -> HTTP responses, registered once: every LakehouseError by one handler (its status, code, body
fields and headers), the framework's own request errors, and anything else as a 500. Every error body is
an ErrorBody; the OpenAI-compatible route answers in OpenAI's shape."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.openai_wire import OPENAI_PATHS, openai_error
from api.routing import InvalidText
from lakehouse_assets.core.errors import LakehouseError

log = logging.getLogger(__name__)


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    body = {"error": code, "message": message, **{k: v for k, v in extra.items() if v is not None}}
    return JSONResponse(status_code=status, content=body)


def _speaks_openai(request: Request) -> bool:
    """The OpenAI-compatible route answers errors in OpenAI's shape, which OpenAI clients parse."""
    return request.url.path in OPENAI_PATHS


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Exception)
    def _unexpected(_: Request, e: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return error_response(500, "internal", f"internal error: {type(e).__name__}")

    @app.exception_handler(LakehouseError)
    def _known(request: Request, e: LakehouseError) -> JSONResponse:
        """Every error the project raises for a caller: its status, code, body fields and headers."""
        if _speaks_openai(request):
            return JSONResponse(openai_error(e.status, str(e), e.code), status_code=e.status, headers=e.headers())
        return JSONResponse(e.body(), status_code=e.status, headers=e.headers())

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
