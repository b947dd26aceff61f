"""An `X-API-Key` sent with a request: its holder, and what its scopes allow."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.requests import HTTPConnection
from fastapi.security import APIKeyHeader

from backend.api.deps.connection import container_of
from backend.core.errors import AuthenticationError, PermissionDeniedError
from backend.services.apikeys.guard import KeyHolder

API_KEY_HEADER = "X-API-Key"
api_key_scheme = APIKeyHeader(name=API_KEY_HEADER, auto_error=False)
ApiKeyValue = Annotated[str | None, Depends(api_key_scheme)]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def login_required() -> PermissionDeniedError:
    return PermissionDeniedError("this needs a login, not an API key", code="login_required")


async def key_holder(connection: HTTPConnection, raw: str) -> KeyHolder:
    """The holder of an API key sent with this request; 403 when its scopes forbid the method."""
    if connection.headers.get("authorization"):
        raise AuthenticationError(
            "send a bearer token or an API key, not both", code="ambiguous_credentials"
        )
    container = container_of(connection)
    peer = connection.client.host if connection.client else None
    client_ip = container.security.client_ip.resolve(
        peer, connection.headers.get("x-forwarded-for")
    )
    holder = await container.api_keys.authenticate(raw, client_ip=client_ip)
    method = connection.scope.get("method", "GET")
    if method not in SAFE_METHODS and not holder.may_trade:
        raise PermissionDeniedError("this API key may only read", code="insufficient_scope")
    return holder
