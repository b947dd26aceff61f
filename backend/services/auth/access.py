"""AccessGuard: bearer token -> Principal, most often without a round trip.

What a token check needs of its user (active? which token version? which role?) is kept in
the shared cache for a few seconds beside the revocation marks, so one MGET answers both.
The endpoints that change a user's access drop that entry after they commit; the short
lifetime bounds what a concurrent reader refilling it with the old row could leave behind.

What one MGET found valid is then remembered in process (per user: the state and the token
ids checked) until it expires or an invalidation for the user arrives. Revoking a token or
session and changing a user's access publish one (see core/cache/invalidation.py), and
entries count only within the epoch they were filled in, so an outage of the channel never
leaves a revoked token accepted from memory.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from backend.core.cache.invalidation import Invalidations
from backend.core.cache.protocol import Cache
from backend.core.database.manager import AsyncDatabaseManager
from backend.core.errors import AuthenticationError
from backend.core.security import SecurityComponents
from backend.core.security.revocation import invalidated_user, user_invalidation
from backend.core.security.tokens import TokenClaims, TokenType
from backend.models.enums import UserRole
from backend.models.user import User

ACCESS_STATE_TTL = 5.0
# Bounds on what is remembered in process: users, and token ids per user.
MAX_REMEMBERED_USERS = 10_000
MAX_TOKENS_PER_USER = 64


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: enough for endpoints that need the user's id and role only."""

    user_id: int
    role: UserRole
    claims: TokenClaims


def access_key(user_id: int) -> str:
    """The cache key of a user's access state."""
    return f"auth:access:{user_id}"


@dataclass(slots=True)
class _Remembered:
    """A user's access state as one MGET found it, and the token ids found not revoked."""

    epoch: int
    expires: float
    role: UserRole
    version: int
    tokens: set[str] = field(default_factory=set)


class AccessGuard:
    """Checks access tokens against revocations and the user's current access state."""

    def __init__(
        self,
        security: SecurityComponents,
        cache: Cache,
        database: AsyncDatabaseManager,
        invalidations: Invalidations,
    ) -> None:
        self.security = security
        self.cache = cache
        self.database = database
        self.invalidations = invalidations
        self._remembered: dict[int, _Remembered] = {}
        invalidations.add_listener(self._invalidated)
        # One database read per user at a time: a burst of requests arriving as the cached
        # state expires waits for the same read instead of taking a connection each.
        self._loading: dict[int, asyncio.Task[dict[str, Any] | None]] = {}

    async def principal(self, token: str | None) -> Principal:
        """The caller behind an access token; 401 when missing, invalid, revoked or stale."""
        if not token:
            raise AuthenticationError("not authenticated", code="not_authenticated")
        claims = self.security.tokens.decode(token, TokenType.ACCESS)
        remembered = self._remembered.get(claims.user_id)
        if (
            remembered is not None
            and claims.jti in remembered.tokens
            and remembered.version == claims.version
            and remembered.epoch == self.invalidations.epoch
            and remembered.expires > time.monotonic()
        ):
            return Principal(claims.user_id, remembered.role, claims)
        generation = self.invalidations.generation
        revoked_token, revoked_session, state = await self.cache.get_many(
            *self.security.revocation.keys(claims), access_key(claims.user_id)
        )
        if revoked_token is not None or revoked_session is not None:
            raise AuthenticationError("the token has been revoked", code="token_revoked")
        if state is None:
            state = await self._load_once(claims.user_id)
        if state is None or not state["active"] or state["version"] != claims.version:
            raise AuthenticationError("the token is no longer valid", code="token_revoked")
        role = UserRole(state["role"])
        if self.invalidations.generation == generation:  # nothing invalidated meanwhile
            self._remember(claims, role)
        return Principal(claims.user_id, role, claims)

    async def forget(self, user_id: int) -> None:
        """Drop a user's cached access state everywhere; call after committing a change to it."""
        await self.cache.delete(access_key(user_id))
        await self.invalidations.publish(user_invalidation(user_id))

    def _remember(self, claims: TokenClaims, role: UserRole) -> None:
        epoch = self.invalidations.epoch
        if epoch is None:
            return
        remembered = self._remembered.get(claims.user_id)
        if (
            remembered is None
            or remembered.epoch != epoch
            or remembered.expires <= time.monotonic()
            or remembered.version != claims.version
            or remembered.role is not role
            or len(remembered.tokens) >= MAX_TOKENS_PER_USER
        ):
            if len(self._remembered) >= MAX_REMEMBERED_USERS:
                self._remembered.clear()
            expires = time.monotonic() + ACCESS_STATE_TTL
            remembered = _Remembered(epoch, expires, role, claims.version)
            self._remembered[claims.user_id] = remembered
        remembered.tokens.add(claims.jti)

    def _invalidated(self, key: str) -> None:
        user_id = invalidated_user(key)
        if user_id is not None:
            self._remembered.pop(user_id, None)

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
