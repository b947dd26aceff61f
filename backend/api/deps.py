"""Annotated dependency aliases used by every router.

Every dependency is `async def`, even the trivial ones: FastAPI runs a plain `def` dependency
in its thread pool, a thread hop per dependency per request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.requests import HTTPConnection
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from backend.api.prefix import API_PREFIX
from backend.app.container import AppContainer
from backend.core.cache.protocol import Cache
from backend.core.config.settings import AppConfig
from backend.core.errors import PermissionDeniedError, ReadOnlyError
from backend.core.security import SecurityComponents
from backend.core.security.tokens import TokenClaims
from backend.models.enums import UserRole
from backend.models.user import User
from backend.schemas.common import BIGINT_MAX, INTEGER_MAX, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX
from backend.services.auth import AuthService
from backend.services.auth.access import Principal
from backend.services.orders.service import OrderService
from backend.services.users import UserService


def container_of(request: HTTPConnection) -> AppContainer:
    """The application's components.

    The dependencies below take the Request and call this rather than depend on ContainerDep:
    FastAPI solves every node of a dependency tree on each request, cached or not (parsing
    query, headers and cookies for each), so a flat tree is cheaper.
    """
    container: AppContainer = request.app.state.container
    return container


async def get_container(request: Request) -> AppContainer:
    """The application's components."""
    return container_of(request)


ContainerDep = Annotated[AppContainer, Depends(get_container)]


async def get_config(request: Request) -> AppConfig:
    """The application's configuration."""
    return container_of(request).config


async def get_cache(request: Request) -> Cache:
    """The shared cache."""
    return container_of(request).cache


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request: committed when the endpoint returns, rolled back on error.

    Declared with scope="function" so the commit happens before the response is sent: a
    client never receives a 201 for a row that failed to commit.
    """
    async with container_of(request).database.session() as session:
        yield session


ConfigDep = Annotated[AppConfig, Depends(get_config)]
CacheDep = Annotated[Cache, Depends(get_cache)]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


# auto_error=False: a missing token is answered by our 401 shape, not FastAPI's.
LOGIN_URL = f"{API_PREFIX}/auth/login"
oauth2_scheme = OAuth2PasswordBearer(tokenUrl=LOGIN_URL, auto_error=False)


async def get_security(request: Request) -> SecurityComponents:
    """Hashing, tokens, revocation and rate limits."""
    return container_of(request).security


SecurityDep = Annotated[SecurityComponents, Depends(get_security)]


async def get_auth_service(request: Request) -> AuthService:
    """Login, refresh, logout and token checks."""
    container = container_of(request)
    return AuthService(container.security, container.revocations)


async def get_user_service(security: SecurityDep) -> UserService:
    """Account management."""
    return UserService(security.passwords)


AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]
UserServiceDep = Annotated[UserService, Depends(get_user_service)]


async def get_client_ip(request: Request, security: SecurityDep) -> str:
    """The client's address, from X-Forwarded-For only behind a trusted proxy."""
    peer = request.client.host if request.client else None
    return security.client_ip.resolve(peer, request.headers.get("x-forwarded-for"))


ClientIPDep = Annotated[str, Depends(get_client_ip)]


@dataclass(frozen=True, slots=True)
class Authentication:
    """The user behind this request's access token, and the token's claims."""

    user: User
    claims: TokenClaims


async def get_authentication(
    token: Annotated[str | None, Depends(oauth2_scheme)],
    session: SessionDep,
    auth: AuthServiceDep,
) -> Authentication:
    """Verify the bearer token; 401 when missing, invalid, expired or revoked."""
    user, claims = await auth.authenticate(session, token=token)
    return Authentication(user=user, claims=claims)


AuthenticationDep = Annotated[Authentication, Depends(get_authentication)]


async def get_current_user(authentication: AuthenticationDep) -> User:
    """Any active user: viewers, traders and admins read."""
    return authentication.user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def require_trader(user: CurrentUser) -> User:
    """Traders and admins change things; viewers get 403 `read_only`."""
    if user.role not in (UserRole.TRADER, UserRole.ADMIN):
        raise ReadOnlyError
    return user


async def require_admin(user: CurrentUser) -> User:
    """Admins only; anyone else gets 403 `forbidden`."""
    if user.role is not UserRole.ADMIN:
        raise PermissionDeniedError("administrators only")
    return user


TraderUser = Annotated[User, Depends(require_trader)]
AdminUser = Annotated[User, Depends(require_admin)]


class PrincipalBearer(OAuth2PasswordBearer):
    """The caller behind the bearer token, for endpoints that need only its id and role.

    One dependency that is also the OpenAPI security scheme (the same one as oauth2_scheme),
    so the hot order endpoints solve a single node for authentication; no database session
    is held.
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
        token = await super().__call__(request)
        principal = await container_of(request).access.principal(token)
        if self.traders_only and principal.role not in (UserRole.TRADER, UserRole.ADMIN):
            raise ReadOnlyError
        return principal


CurrentPrincipal = Annotated[Principal, Depends(PrincipalBearer(traders_only=False))]
TraderPrincipal = Annotated[Principal, Depends(PrincipalBearer(traders_only=True))]


@dataclass(frozen=True, slots=True)
class PageParams:
    """Which slice of a list to answer."""

    limit: int
    offset: int


async def get_page_params(
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT_MAX)] = PAGE_LIMIT_DEFAULT,
    offset: Annotated[int, Query(ge=0, le=BIGINT_MAX)] = 0,
) -> PageParams:
    """`limit` (1-500, default 50) and `offset` (>= 0; SQL's OFFSET is a BIGINT)."""
    return PageParams(limit=limit, offset=offset)


PageParamsDep = Annotated[PageParams, Depends(get_page_params)]


def order_service(request: Request) -> OrderService:
    """The order path shared by people and strategies.

    Taken from the Request in the order endpoints rather than declared as a dependency:
    each dependency FastAPI solves costs about 25 us a request (measured in process), a
    tenth of the CPU of GET /orders/{id}.
    """
    return container_of(request).trading.orders


# Database ids in paths: positive and within the key column's type, so a bad id is 422, never a
# 500 (PostgreSQL refuses an out-of-range parameter). ResourceId: BIGINT keys (orders, trades);
# IntegerId: INTEGER keys (users, strategies, backtests).
ResourceId = Annotated[int, Path(ge=1, le=BIGINT_MAX)]
IntegerId = Annotated[int, Path(ge=1, le=INTEGER_MAX)]
