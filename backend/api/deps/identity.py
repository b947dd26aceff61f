"""Who is calling: the user behind the bearer token or the `X-API-Key`, or only its id and role.

An API key acts for its owner with the owner's current role, narrowed by its scopes: a key
without `trade` gets 403 `insufficient_scope` on every method but GET/HEAD/OPTIONS; admin
endpoints and account management (LoginSessionDep) answer a key 403 `login_required`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from fastapi.requests import HTTPConnection
from fastapi.security import OAuth2PasswordBearer

from backend.api.base_path import API_PREFIX
from backend.api.deps.api_key import ApiKeyValue, key_holder, login_required
from backend.api.deps.connection import SessionDep
from backend.api.deps.services import AuthServiceDep
from backend.core.errors import AuthenticationError, PermissionDeniedError, ReadOnlyError
from backend.core.security.tokens import TokenClaims
from backend.models.enums import UserRole
from backend.models.user import User
from backend.services.apikeys.guard import KeyHolder
from backend.services.users.repository import UserRepository

# auto_error=False: a missing token is answered by our 401 shape, not FastAPI's.
LOGIN_URL = f"{API_PREFIX}/auth/login"
oauth2_scheme = OAuth2PasswordBearer(tokenUrl=LOGIN_URL, auto_error=False)
BearerToken = Annotated[str | None, Depends(oauth2_scheme)]


@dataclass(frozen=True, slots=True)
class Authentication:
    """The user behind this request: its access token's claims, or the API key it sent."""

    user: User
    claims: TokenClaims | None
    key: KeyHolder | None = None


async def get_authentication(
    connection: HTTPConnection,
    token: BearerToken,
    api_key: ApiKeyValue,
    session: SessionDep,
    auth: AuthServiceDep,
) -> Authentication:
    """Verify the bearer token or API key; 401 when missing, invalid, expired or revoked."""
    if api_key is None:
        user, claims = await auth.authenticate(session, token=token)
        return Authentication(user=user, claims=claims)
    holder = await key_holder(connection, api_key)
    owner = await UserRepository(session).get_by_id(holder.user_id)
    if owner is None or not owner.is_active:
        raise AuthenticationError("the API key is no longer valid", code="api_key_revoked")
    return Authentication(user=owner, claims=None, key=holder)


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


async def require_admin(authentication: AuthenticationDep) -> User:
    """Admins only, logged in; anyone else gets 403 `forbidden` (a key `login_required`)."""
    if authentication.user.role is not UserRole.ADMIN:
        raise PermissionDeniedError("administrators only")
    if authentication.key is not None:
        raise login_required()
    return authentication.user


TraderUser = Annotated[User, Depends(require_trader)]
AdminUser = Annotated[User, Depends(require_admin)]
