"""AccessGuard: bearer token -> Principal, most often without a round trip.

What a token check needs of its user (active? which token version? which role?) is kept in
the shared cache for a few seconds beside the revocation marks, so one MGET answers both.
The endpoints that change a user's access drop that entry after they commit; each entry
carries the time it stops counting (`until`, taken before the database read), so a write
that Redis applies late (it was paused, say) cannot outlive a change it missed.

The MGET also reads MIRRORED_KEY, present while Redis holds every revocation the database
records (services/auth/revocations.py). Without it a miss proves nothing: Redis restarted
empty or cannot be read, and the check asks the database instead (and remembers nothing).
So it does while a revocation or access change made on this replica waits for Redis.

What one MGET found valid is then remembered in process (per user: the state and the token
ids checked) until it expires or an invalidation for the user arrives. Revoking a session
and changing a user's access publish one (see core/cache/invalidation.py), and entries count
only within the epoch they were filled in, so an outage of the channel never leaves a
revoked token accepted from memory.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import exists, select

from backend.core.cache.invalidation import Invalidations
from backend.core.cache.protocol import Cache
from backend.core.database.manager import AsyncDatabaseManager
from backend.core.errors import AuthenticationError
from backend.core.security import SecurityComponents
from backend.core.security.revocation import (
    MIRRORED_KEY,
    invalidated_user,
    session_key,
    user_invalidation,
)
from backend.core.security.tokens import TokenClaims, TokenType
from backend.models.enums import UserRole
from backend.models.revocation import RevokedSession
from backend.models.user import User
from backend.services.apikeys.guard import KeyHolder
from backend.services.auth.revocations import RevocationStore

ACCESS_STATE_TTL = 5.0
# Bounds on what is remembered in process: users, and token ids per user.
MAX_REMEMBERED_USERS = 10_000
MAX_TOKENS_PER_USER = 64


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: enough for endpoints that need the user's id and role only."""

    user_id: int
    role: UserRole
    claims: TokenClaims | None  # None for a caller with an API key
    key: KeyHolder | None = None


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
        revocations: RevocationStore,
    ) -> None:
        self.security = security
        self.cache = cache
        self.database = database
        self.invalidations = invalidations
        self.revocations = revocations
        self._remembered: dict[int, _Remembered] = {}
        invalidations.add_listener(self._invalidated)
        # One database read per user (or session) at a time: a burst of requests arriving as
        # the cached state expires waits for the same read instead of taking a connection each.
        self._loading: dict[object, asyncio.Task[dict[str, Any] | None]] = {}

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
        revoked, mirrored, state = await self.cache.get_many(
            session_key(claims.session_id), MIRRORED_KEY, access_key(claims.user_id)
        )
        if mirrored is None or self.revocations.pending.count:
            # Redis restarted empty, cannot be read, or has yet to take a revocation or access
            # change made here: a miss proves nothing.
            self.revocations.request_reload()
            key = (claims.user_id, claims.session_id)
            checked = await self._load_once(key, lambda: self._check_in_database(claims))
            if checked is not None and checked["revoked"]:
                raise AuthenticationError("the token has been revoked", code="token_revoked")
            return Principal(claims.user_id, _role(claims, checked), claims)
        if revoked is not None:
            raise AuthenticationError("the token has been revoked", code="token_revoked")
        if state is None or state.get("until", 0) <= time.time():
            user_id = claims.user_id
            state = await self._load_once(user_id, lambda: self._load(user_id))
        role = _role(claims, state)
        if self.invalidations.generation == generation:  # nothing invalidated meanwhile
            self._remember(claims, role)
        return Principal(claims.user_id, role, claims)

    async def forget(self, user_id: int) -> None:
        """Drop a user's cached access state everywhere; call after committing a change to it.

        Should Redis refuse, the entry is overwritten as soon as it answers again; until
        then it stops counting at its `until` anyway.
        """
        await self.revocations.pending.write(access_key(user_id), None, ACCESS_STATE_TTL)
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

    async def _load_once(
        self, key: object, load: Callable[[], Coroutine[Any, Any, dict[str, Any] | None]]
    ) -> dict[str, Any] | None:
        loading = self._loading.get(key)
        if loading is None:
            # A task of its own: a caller that gives up does not cancel it for the others.
            loading = asyncio.create_task(load(), name=f"access-state-{key}")
            self._loading[key] = loading
            loading.add_done_callback(lambda _: self._loading.pop(key, None))
        return await asyncio.shield(loading)

    async def _load(self, user_id: int) -> dict[str, Any] | None:
        until = time.time() + ACCESS_STATE_TTL  # before the read: the entry never outlives it
        statement = select(User.is_active, User.token_version, User.role).where(User.id == user_id)
        async with self.database.session_factory() as session:
            row = (await session.execute(statement)).one_or_none()
        if row is None:
            return None
        state = {
            "active": row.is_active,
            "version": row.token_version,
            "role": row.role.value,
            "until": until,
        }
        if (ttl := until - time.time()) > 0:
            await self.cache.set(access_key(user_id), state, ttl)
        return state

    async def _check_in_database(self, claims: TokenClaims) -> dict[str, Any] | None:
        """The user's access state and whether the session is revoked, in one query."""
        revoked = exists().where(RevokedSession.session_id == claims.session_id)
        statement = select(
            User.is_active, User.token_version, User.role, revoked.label("revoked")
        ).where(User.id == claims.user_id)
        async with self.database.session_factory() as session:
            row = (await session.execute(statement)).one_or_none()
        if row is None:
            return None
        return {
            "active": row.is_active,
            "version": row.token_version,
            "role": row.role.value,
            "revoked": bool(row.revoked),
        }


def _role(claims: TokenClaims, state: dict[str, Any] | None) -> UserRole:
    """The role of a token whose user is still active at the token's version; else 401."""
    if state is None or not state["active"] or state["version"] != claims.version:
        raise AuthenticationError("the token is no longer valid", code="token_revoked")
    return UserRole(state["role"])
