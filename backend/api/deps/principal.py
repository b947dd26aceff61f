"""Who is calling, from the credentials alone: the user's id and role, no database session.

For the hot endpoints (orders, bars): a bearer token checked by the AccessGuard, or an
`X-API-Key` checked by the ApiKeyGuard.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends
from fastapi.requests import HTTPConnection
from fastapi.security import OAuth2PasswordBearer
from fastapi.security.utils import get_authorization_scheme_param

from backend.api.deps.api_key import API_KEY_HEADER, key_holder, login_required
from backend.api.deps.connection import container_of
from backend.api.deps.identity import LOGIN_URL, oauth2_scheme
from backend.core.errors import PermissionDeniedError, ReadOnlyError
from backend.models.enums import UserRole
from backend.services.auth.access import Principal


class PrincipalBearer(OAuth2PasswordBearer):
    """The caller behind the bearer token, for endpoints that need only its id and role.

    One dependency that is also the OpenAPI security scheme (the same one as oauth2_scheme),
    so the hot order endpoints solve a single node for authentication; no database session
    is held. An `X-API-Key` header is checked instead when sent.
    """

    def __init__(self, *, traders_only: bool) -> None:
        super().__init__(
            tokenUrl=LOGIN_URL,
            scheme_name=oauth2_scheme.scheme_name,
            auto_error=False,
        )
        self.traders_only = traders_only

    async def __call__(self, request: HTTPConnection) -> Principal:  # type: ignore[override]
        """401 for a bad token; 403 `read_only` for a viewer where traders only are let in."""
        return await principal_of(request, traders_only=self.traders_only)


async def principal_of(connection: HTTPConnection, *, traders_only: bool) -> Principal:
    """The caller: its `X-API-Key`, else its bearer token (401 when missing or bad); 403
    `read_only` for a viewer where traders only are let in."""
    raw_key = connection.headers.get(API_KEY_HEADER)
    if raw_key is not None:
        holder = await key_holder(connection, raw_key)
        principal = Principal(holder.user_id, holder.role, None, holder)
    else:
        scheme, token = get_authorization_scheme_param(connection.headers.get("authorization"))
        bearer = token if scheme.lower() == "bearer" else None
        principal = await container_of(connection).access.principal(bearer)
    if traders_only and principal.role not in (UserRole.TRADER, UserRole.ADMIN):
        raise ReadOnlyError
    return principal


# The hottest endpoints (placing and reading an order) authenticate in their route's own
# handler (api_route.ApiRoute), before FastAPI solves anything: no dependency node per
# request, and still 401 before a 422 for the body or path, as with a dependency.
_AUTHENTICATES = "_redfire_authenticates"
_PRINCIPAL_KEY = "redfire.principal"
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def authenticated(*, traders_only: bool) -> Callable[[Endpoint], Endpoint]:
    """Mark an endpoint whose route authenticates its caller (read it with `caller_of`);
    the route declares BEARER_SECURITY in its OpenAPI operation."""

    def mark(endpoint: Endpoint) -> Endpoint:
        setattr(endpoint, _AUTHENTICATES, traders_only)
        return endpoint

    return mark


def authentication_of(endpoint: Callable[..., Any]) -> bool | None:
    """None: the endpoint authenticates by its dependencies; else `traders_only`."""
    traders_only: bool | None = getattr(endpoint, _AUTHENTICATES, None)
    return traders_only


async def authenticate(connection: HTTPConnection, *, traders_only: bool) -> None:
    """Authenticate the caller of a marked endpoint (401 / 403 raised here)."""
    connection.scope[_PRINCIPAL_KEY] = await principal_of(connection, traders_only=traders_only)


def caller_of(connection: HTTPConnection) -> Principal:
    """The caller its route authenticated (endpoints marked `authenticated` only)."""
    principal: Principal = connection.scope[_PRINCIPAL_KEY]
    return principal


# What PrincipalBearer adds to a route's OpenAPI operation, for `authenticated` endpoints.
BEARER_SECURITY: dict[str, Any] = {"security": [{oauth2_scheme.scheme_name: []}]}


CurrentPrincipal = Annotated[Principal, Depends(PrincipalBearer(traders_only=False))]
TraderPrincipal = Annotated[Principal, Depends(PrincipalBearer(traders_only=True))]


async def require_admin_principal(principal: CurrentPrincipal) -> None:
    """Admins only, from the token alone (no database session held through a long call)."""
    if principal.role is not UserRole.ADMIN:
        raise PermissionDeniedError("administrators only")
    if principal.key is not None:
        raise login_required()
