"""Revoked tokens and sessions, kept in the shared cache until they would have expired."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from backend.core.cache.invalidation import Invalidations
from backend.core.cache.protocol import Cache
from backend.core.errors import ServiceUnavailableError
from backend.core.security.tokens import TokenClaims


def _utcnow() -> datetime:
    return datetime.now(UTC)


def user_invalidation(user_id: int) -> str:
    """The invalidation that drops what any replica remembers of a user's access."""
    return f"user:{user_id}"


def invalidated_user(key: str) -> int | None:
    """The user an invalidation is about, or None for any other key."""
    kind, _, user_id = key.partition(":")
    return int(user_id) if kind == "user" and user_id.isdigit() else None


class RevocationList:
    """A denylist of token ids (`jti`) and session ids (`sid`), shared through the cache.

    Each revocation is also published as an invalidation of its user, so no replica keeps
    accepting the token from what it remembers in process (see AccessGuard).
    """

    def __init__(
        self,
        cache: Cache,
        invalidations: Invalidations,
        *,
        session_lifetime: timedelta,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._cache = cache
        self._invalidations = invalidations
        # Every token of a session expires at most this long after the session is revoked.
        self._session_ttl = session_lifetime.total_seconds() + 60
        self._clock = clock

    def _ttl_until(self, expires_at: datetime) -> float:
        return max(1.0, math.ceil((expires_at - self._clock()).total_seconds()) + 60)

    @staticmethod
    def keys(claims: TokenClaims) -> tuple[str, str]:
        """The cache keys that mark this token, or its whole session, revoked."""
        return f"revoked:jti:{claims.jti}", f"revoked:sid:{claims.session_id}"

    async def is_revoked(self, claims: TokenClaims) -> bool:
        """True if this token or its whole session was revoked."""
        return await self._cache.exists(*self.keys(claims))

    async def revoke_token(self, claims: TokenClaims) -> None:
        """Revoke one token until its expiry."""
        stored = await self._cache.set(
            f"revoked:jti:{claims.jti}", 1, ttl=self._ttl_until(claims.expires_at)
        )
        await self._stored(stored, claims.user_id)

    async def revoke_session(self, claims: TokenClaims) -> None:
        """Revoke every access and refresh token of the session `claims` belongs to."""
        key = f"revoked:sid:{claims.session_id}"
        stored = await self._cache.set(key, 1, ttl=self._session_ttl)
        await self._stored(stored, claims.user_id)

    async def _stored(self, stored: bool, user_id: int) -> None:
        if not stored:
            raise ServiceUnavailableError(
                "the token store is unavailable", code="cache_unavailable"
            )
        await self._invalidations.publish(user_invalidation(user_id))

    async def consume(self, claims: TokenClaims) -> bool:
        """Mark a single-use token used; False if it already was (a replay)."""
        stored = await self._cache.set_if_absent(
            f"revoked:jti:{claims.jti}", 1, ttl=self._ttl_until(claims.expires_at)
        )
        if stored is None:
            raise ServiceUnavailableError(
                "the token store is unavailable", code="cache_unavailable"
            )
        return stored
