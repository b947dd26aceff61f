"""Annotated dependency aliases used by every router.

Every dependency is `async def`, even the trivial ones: FastAPI runs a plain `def` dependency
in its thread pool, a thread hop per dependency per request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from backend.core.cache.protocol import Cache
from backend.core.config.settings import AppConfig
from backend.core.container import AppContainer
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


async def get_container(request: Request) -> AppContainer:
    """The application's components."""
    container: AppContainer = request.app.state.container
    return container


ContainerDep = Annotated[AppContainer, Depends(get_container)]


async def get_config(container: ContainerDep) -> AppConfig:
    """The application's configuration."""
    return container.config


async def get_cache(container: ContainerDep) -> Cache:
    """The shared cache."""
    return container.cache


async def get_session(container: ContainerDep) -> AsyncIterator[AsyncSession]:
    """One session per request: committed when the endpoint returns, rolled back on error.

    Declared with scope="function" so the commit happens before the response is sent: a
    client never receives a 201 for a row that failed to commit.
    """
    async with container.database.session() as session:
        yield session


async def get_read_connection(container: ContainerDep) -> AsyncIterator[AsyncConnection]:
    """A connection for endpoints that read one row (no transaction on PostgreSQL)."""
    async with container.database.read_connection() as connection:
        yield connection


ConfigDep = Annotated[AppConfig, Depends(get_config)]
CacheDep = Annotated[Cache, Depends(get_cache)]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
ReadConnectionDep = Annotated[AsyncConnection, Depends(get_read_connection, scope="function")]


# auto_error=False: a missing token is answered by our 401 shape, not FastAPI's.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/login", auto_error=False)


async def get_security(container: ContainerDep) -> SecurityComponents:
    """Hashing, tokens, revocation and rate limits."""
    return container.security


SecurityDep = Annotated[SecurityComponents, Depends(get_security)]


async def get_auth_service(security: SecurityDep) -> AuthService:
    """Login, refresh, logout and token checks."""
    return AuthService(security)


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


async def get_principal(
    token: Annotated[str | None, Depends(oauth2_scheme)], container: ContainerDep
) -> Principal:
    """The caller, for endpoints that need only its id and role (no database session held)."""
    return await container.access.principal(token)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


async def get_trader_principal(principal: CurrentPrincipal) -> Principal:
    """A trader or admin; viewers get 403 `read_only`."""
    if principal.role not in (UserRole.TRADER, UserRole.ADMIN):
        raise ReadOnlyError
    return principal


TraderPrincipal = Annotated[Principal, Depends(get_trader_principal)]


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


async def get_order_service(container: ContainerDep) -> OrderService:
    """The order path shared by people and strategies."""
    return container.trading.orders


OrderServiceDep = Annotated[OrderService, Depends(get_order_service)]
# Database ids in paths: positive and within the key column's type, so a bad id is 422, never a
# 500 (PostgreSQL refuses an out-of-range parameter). ResourceId: BIGINT keys (orders, trades);
# IntegerId: INTEGER keys (users, strategies, backtests).
ResourceId = Annotated[int, Path(ge=1, le=BIGINT_MAX)]
IntegerId = Annotated[int, Path(ge=1, le=INTEGER_MAX)]
