"""OpenAPI declarations of the contract's error answers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Missing, invalid, expired or revoked token",
    403: "Authenticated but not allowed",
    404: "Not found, or not yours",
    409: "Conflict with the current state",
    413: "Request body too large",
    422: "Validation error",
    429: "Rate limited (see Retry-After)",
    503: "A dependency is down",
}


class ErrorBody(BaseModel):
    """Every error: a stable code, details for people, and the request id."""

    error: str
    detail: Any
    request_id: str | None


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for the given error statuses."""
    return {code: {"model": ErrorBody, "description": _DESCRIPTIONS[code]} for code in codes}
