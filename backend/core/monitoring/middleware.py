"""RequestContextMiddleware: request id, body limit, metrics, access log, last-resort 500.

A pure ASGI middleware (no BaseHTTPMiddleware): it sits on the hot path of every request.
"""

from __future__ import annotations

import functools
import json
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any

import structlog
from prometheus_client import Counter, Gauge, Histogram
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.core.errors import error_payload
from backend.core.monitoring.access_log import access_enabled, log_request
from backend.core.monitoring.logging import request_id_var
from backend.core.monitoring.metrics import (
    HTTP_REQUEST_DURATION,
    HTTP_REQUESTS,
    HTTP_REQUESTS_IN_PROGRESS,
)

logger = structlog.get_logger("redfire.access")
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class BodyTooLargeError(HTTPException):
    """The request body exceeds the configured limit.

    An HTTPException because FastAPI turns any other error raised while it reads the body into
    a 400; this one it re-raises, and the error handler answers 413 `payload_too_large`.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body exceeds {limit} bytes")


class RequestContextMiddleware:
    """Everything that must happen once per HTTP request, whatever the route.

    Bodies are capped at `max_body_bytes`, except POSTs to the paths in `upload_limits`
    (uploads streamed to disk: bar imports, backtest CSVs), which get their own cap.
    """

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, upload_limits: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.upload_limits = dict(upload_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                request_id_var.set(_request_id(scope))
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        token = request_id_var.set(request_id)
        method = scope["method"]
        started = time.perf_counter()
        status = 500
        response_started = False
        header_id = request_id.encode()

        limit = self.max_body_bytes
        if method == "POST" and self.upload_limits:
            limit = self.upload_limits.get(scope["path"], limit)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            status = 413
            await _send_error(send, 413, "payload_too_large", _too_large(limit), request_id)
            self._finish(scope, method, status, started)
            request_id_var.reset(token)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError(limit)
            return message

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", header_id))
                headers.extend(_SECURITY_HEADERS)
                message["headers"] = headers
            await send(message)

        in_progress = _in_progress(method)
        in_progress.inc()
        try:
            await self.app(scope, limited_receive, send_with_headers)
        except BodyTooLargeError:
            status = 413
            if not response_started:
                await _send_error(send, 413, "payload_too_large", _too_large(limit), request_id)
        except Exception:
            status = 500
            logger.exception("unhandled_error", method=method, path=scope["path"])
            if not response_started:
                await _send_error(send, 500, "internal_error", "internal server error", request_id)
        finally:
            in_progress.dec()
            self._finish(scope, method, status, started)
            request_id_var.reset(token)

    @staticmethod
    def _finish(scope: Scope, method: str, status: int, started: float) -> None:
        elapsed = time.perf_counter() - started
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        status_class = f"{status // 100}xx"
        requests, duration = _request_series(method, template, status_class)
        requests.inc()
        duration.observe(elapsed)
        if not access_enabled():
            return
        log_request(
            method=method,
            path=scope["path"],
            route=template,
            status=status,
            duration_ms=round(elapsed * 1000, 3),
            client=(scope.get("client") or ("-",))[0],
        )


# Label lookups cost a lock and a validation each; routes, methods and status classes are
# few, so the labelled children are looked up once per combination.
@functools.cache
def _in_progress(method: str) -> Gauge:
    return HTTP_REQUESTS_IN_PROGRESS.labels(method=method)


@functools.cache
def _request_series(method: str, route: str, status_class: str) -> tuple[Counter, Histogram]:
    labels = {"method": method, "route": route, "status_class": status_class}
    return HTTP_REQUESTS.labels(**labels), HTTP_REQUEST_DURATION.labels(**labels)


def _too_large(limit: int) -> str:
    return f"request body exceeds {limit} bytes"


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if _VALID_REQUEST_ID.match(candidate):
                return candidate
            break
    return secrets.token_hex(16)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_error(send: Send, status: int, code: str, detail: Any, request_id: str) -> None:
    body = json.dumps(error_payload(code, detail, request_id)).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode()),
        *_SECURITY_HEADERS,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
