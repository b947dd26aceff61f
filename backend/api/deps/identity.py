"""Who is calling: the user behind the bearer token, or only its id and role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from fastapi.requests import HTTPConnection
from fastapi.security import OAuth2PasswordBearer

from backend.api.base_path import API_PREFIX
from backend.api.deps.connection import SessionDep, container_of
from backend.api.deps.services import AuthServiceDep
from backend.core.errors import PermissionDeniedError, ReadOnlyError
from backend.core.security.tokens import TokenClaims
from backend.models.enums import UserRole
from backend.models.user import User
from backend.services.auth.access import Principal

# auto_error=False: a missing token is answered by our 401 shape, not FastAPI's.
LOGIN_URL = f"{API_PREFIX}/auth/login"
oauth2_scheme = OAuth2PasswordBearer(tokenUrl=LOGIN_URL, auto_error=False)
BearerToken = Annotated[str | None, Depends(oauth2_scheme)]


@dataclass(frozen=True, slots=True)
class Authentication:
    """The user behind this request's access token, and the token's claims."""

    user: User
    claims: TokenClaims


async def get_authentication(
    token: BearerToken, session: SessionDep, auth: AuthServiceDep
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


async def require_admin_principal(principal: CurrentPrincipal) -> None:
    """Admins only, from the token alone (no database session held through a long call)."""
    if principal.role is not UserRole.ADMIN:
        raise PermissionDeniedError("administrators only")
