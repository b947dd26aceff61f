"""Domain errors: each carries its HTTP status and stable code; api/errors.py renders them."""

from __future__ import annotations

from typing import Any


class RedFireError(Exception):
    """Base of every error a service raises on purpose."""

    status_code: int = 400
    code: str = "bad_request"

    def __init__(self, detail: Any = None, *, code: str | None = None) -> None:
        self.detail = detail if detail is not None else self.code.replace("_", " ")
        if code is not None:
            self.code = code
        super().__init__(str(self.detail))

    @property
    def headers(self) -> dict[str, str] | None:
        """Extra response headers (WWW-Authenticate, Retry-After...)."""
        return None


class BadRequestError(RedFireError):
    """The request is malformed."""

    status_code = 400
    code = "bad_request"


class AuthenticationError(RedFireError):
    """Missing, invalid, expired or revoked credentials."""

    status_code = 401
    code = "not_authenticated"

    @property
    def headers(self) -> dict[str, str] | None:
        return {"WWW-Authenticate": "Bearer"}


class PermissionDeniedError(RedFireError):
    """Authenticated, but not allowed."""

    status_code = 403
    code = "forbidden"


class NotFoundError(RedFireError):
    """Not found, or not yours: raised with `<object>_not_found`; bare `not_found` is a route."""

    status_code = 404
    code = "not_found"


class ConflictError(RedFireError):
    """The request conflicts with the current state."""

    status_code = 409
    code = "conflict"


class DomainValidationError(RedFireError):
    """The request is well-formed but its values are not acceptable."""

    status_code = 422
    code = "validation_error"


class RateLimitedError(RedFireError):
    """Too many requests; retry after `retry_after` seconds."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, detail: Any = None, *, retry_after: int = 1, code: str | None = None):
        super().__init__(detail, code=code)
        self.retry_after = max(1, int(retry_after))

    @property
    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after)}


class ServiceUnavailableError(RedFireError):
    """A dependency is down."""

    status_code = 503
    code = "service_unavailable"


class InvalidCredentialsError(AuthenticationError):
    """Wrong username or password (never says which)."""

    code = "invalid_credentials"

    def __init__(self, detail: Any = "incorrect username or password") -> None:
        super().__init__(detail)


class ReadOnlyError(PermissionDeniedError):
    """A viewer tried to change something."""

    code = "read_only"

    def __init__(self, detail: Any = "viewers can read but not change anything") -> None:
        super().__init__(detail)


def error_payload(code: str, detail: Any, request_id: str | None) -> dict[str, Any]:
    """The contract's error shape."""
    return {"error": code, "detail": detail, "request_id": request_id}
