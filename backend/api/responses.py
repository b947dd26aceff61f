"""OpenAPI declarations of the contract's error answers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

_DESCRIPTIONS = {
    400: "Malformed request (a body that is not UTF-8, JSON or multipart as declared)",
    401: "Missing, invalid, expired or revoked token",
    403: "Authenticated but not allowed",
    404: "Not found, or not yours",
    409: "Conflict with the current state",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Validation error",
    426: "Upgrade Required: a WebSocket endpoint, reached over plain HTTP",
    429: "Rate limited (see Retry-After)",
    500: "Internal error (a bug: never expected)",
    503: "A dependency is down",
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "The authentication scheme: `Bearer`",
            "required": True,
            "schema": {"type": "string", "enum": ["Bearer"]},
        }
    },
    426: {
        "Upgrade": {
            "description": "The protocol to switch to: `websocket`",
            "required": True,
            "schema": {"type": "string", "enum": ["websocket"]},
        }
    },
    429: {
        "Retry-After": {
            "description": "Seconds to wait before trying again",
            "required": True,
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
        }
    },
}


class ErrorBody(BaseModel):
    """Every error: a stable code, details for people, and the request id."""

    error: str
    detail: Any
    request_id: str | None


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for the given error statuses."""
    responses: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {"model": ErrorBody, "description": _DESCRIPTIONS[code]}
        if code in _HEADERS:
            entry["headers"] = _HEADERS[code]
        responses[code] = entry
    return responses


# Any request: a body over the limit is refused before routing, a query parameter the route
# does not take is 422 (query_guard.py); the last-resort 500 handler.
ANY_REQUEST_ERRORS = error_responses(413, 422, 500)
# Every /api/v1 operation also reads the database (or Redis, for token revocation).
API_ERRORS = error_responses(413, 422, 500, 503)
# A request body: undecodable (400), invalid (422).
BODY_ERRORS = error_responses(400, 422)
