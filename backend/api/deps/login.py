"""Callers who logged in: account changes and key management refuse API keys (403)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from backend.api.deps.api_key import login_required
from backend.api.deps.identity import AuthenticationDep
from backend.core.security.tokens import TokenClaims
from backend.models.user import User


@dataclass(frozen=True, slots=True)
class LoginSession:
    """A caller who logged in (a bearer token), not a program with a key."""

    user: User
    claims: TokenClaims


async def require_login(authentication: AuthenticationDep) -> LoginSession:
    """Account changes and key management: a bearer token only; a key gets 403."""
    if authentication.claims is None:
        raise login_required()
    return LoginSession(authentication.user, authentication.claims)


LoginSessionDep = Annotated[LoginSession, Depends(require_login)]


async def get_logged_in_user(login: LoginSessionDep) -> User:
    """The user of a login session (never an API key)."""
    return login.user


LoggedInUser = Annotated[User, Depends(get_logged_in_user)]
