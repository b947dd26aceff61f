"""AccessGuard: bearer token -> Principal, with one cache round trip on the hot path.

What a token check needs of its user (active? which token version? which role?) is kept in
the shared cache for a few seconds beside the revocation marks, so one MGET answers both.
The endpoints that change a user's access drop that entry after they commit; the short
lifetime bounds what a concurrent reader refilling it with the old row could leave behind.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from backend.core.cache.protocol import Cache
from backend.core.database.manager import AsyncDatabaseManager
from backend.core.errors import AuthenticationError
from backend.core.security import SecurityComponents
from backend.core.security.tokens import TokenClaims, TokenType
from backend.models.enums import UserRole
from backend.models.user import User

ACCESS_STATE_TTL = 5.0


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: enough for endpoints that need the user's id and role only."""

    user_id: int
    role: UserRole
    claims: TokenClaims


def access_key(user_id: int) -> str:
    """The cache key of a user's access state."""
    return f"auth:access:{user_id}"


class AccessGuard:
    """Checks access tokens against revocations and the user's current access state."""

    def __init__(
        self, security: SecurityComponents, cache: Cache, database: AsyncDatabaseManager
    ) -> None:
        self.security = security
        self.cache = cache
        self.database = database
        # One database read per user at a time: a burst of requests arriving as the cached
        # state expires waits for the same read instead of taking a connection each.
        self._loading: dict[int, asyncio.Task[dict[str, Any] | None]] = {}

    async def principal(self, token: str | None) -> Principal:
        """The caller behind an access token; 401 when missing, invalid, revoked or stale."""
        if not token:
            raise AuthenticationError("not authenticated", code="not_authenticated")
        claims = self.security.tokens.decode(token, TokenType.ACCESS)
        revoked_token, revoked_session, state = await self.cache.get_many(
            *self.security.revocation.keys(claims), access_key(claims.user_id)
        )
        if revoked_token is not None or revoked_session is not None:
            raise AuthenticationError("the token has been revoked", code="token_revoked")
        if state is None:
            state = await self._load_once(claims.user_id)
        if state is None or not state["active"] or state["version"] != claims.version:
            raise AuthenticationError("the token is no longer valid", code="token_revoked")
        return Principal(claims.user_id, UserRole(state["role"]), claims)

    async def forget(self, user_id: int) -> None:
        """Drop a user's cached access state; call after committing a change to it."""
        await self.cache.delete(access_key(user_id))

    async def _load_once(self, user_id: int) -> dict[str, Any] | None:
        loading = self._loading.get(user_id)
        if loading is None:
            # A task of its own: a caller that gives up does not cancel it for the others.
            loading = asyncio.create_task(self._load(user_id), name=f"access-state-{user_id}")
            self._loading[user_id] = loading
            loading.add_done_callback(lambda _: self._loading.pop(user_id, None))
        return await asyncio.shield(loading)

    async def _load(self, user_id: int) -> dict[str, Any] | None:
        statement = select(User.is_active, User.token_version, User.role).where(User.id == user_id)
        async with self.database.session_factory() as session:
            row = (await session.execute(statement)).one_or_none()
        if row is None:
            return None
        state = {"active": row.is_active, "version": row.token_version, "role": row.role.value}
        await self.cache.set(access_key(user_id), state, ACCESS_STATE_TTL)
        return state
