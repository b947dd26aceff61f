"""Who is calling, from the credentials alone: the user's id and role, no database session.

For the hot endpoints (orders, bars): a bearer token checked by the AccessGuard, or an
`X-API-Key` checked by the ApiKeyGuard.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.requests import HTTPConnection
from fastapi.security import OAuth2PasswordBearer

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
        raw_key = request.headers.get(API_KEY_HEADER)
        if raw_key is not None:
            holder = await key_holder(request, raw_key)
            principal = Principal(holder.user_id, holder.role, None, holder)
        else:
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
    if principal.key is not None:
        raise login_required()
