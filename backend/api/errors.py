"""One place that renders every error in the contract's shape."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from backend.api.validation_errors import validation_failure
from backend.core.errors import RedFireError, error_payload
from backend.core.monitoring.logging import request_id_var

logger = structlog.get_logger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "service_unavailable",
}


def error_response(
    status_code: int, code: str, detail: Any, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """A JSON error response carrying the current request id."""
    body = error_payload(code, jsonable_encoder(detail), request_id_var.get())
    return JSONResponse(body, status_code=status_code, headers=headers)


async def _redfire_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RedFireError)
    return error_response(exc.status_code, exc.code, exc.detail, exc.headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    headers = exc.headers
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request))}
    return error_response(exc.status_code, code, detail, headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method the path answers (RFC 9110 Allow), not only the first route's.

    Starlette's 405 names the methods of the first route whose path matched; a path served by
    several routes (GET and POST /api/v1/orders) would advertise one of them.
    """
    table: list[tuple[re.Pattern[str], frozenset[str]]] | None
    table = getattr(request.app.state, "method_table", None)
    if table is None:
        table = [
            (compile_path(context.path)[0], frozenset(context.methods))
            for context in iter_route_contexts(request.app.routes)
            if context.path and context.methods
        ]
        request.app.state.method_table = table
    path = request.scope["path"].removeprefix(request.scope.get("root_path", ""))
    return sorted({method for regex, methods in table if regex.match(path) for method in methods})


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(*validation_failure(exc.errors()))


async def _database_unavailable(_: Request, exc: Exception) -> JSONResponse:
    logger.warning("database_unavailable", error=type(exc).__name__)
    return error_response(503, "database_unavailable", "the database is unavailable")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on `app`."""
    for db_error in (OperationalError, InterfaceError, PoolTimeoutError, ConnectionError):
        app.add_exception_handler(db_error, _database_unavailable)
    app.add_exception_handler(RedFireError, _redfire_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
