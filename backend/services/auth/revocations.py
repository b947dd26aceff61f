"""RevocationStore: revoked sessions and spent refresh tokens, recorded in the database.

The database is the record; Redis holds a copy for the check every request makes: a key per
live revoked session, and MIRRORED_KEY once the copy is complete. A Redis miss means "not
revoked" only while MIRRORED_KEY is there. Without it (Redis restarted empty, or cannot be
read, which also reads as missing) checks ask the database, and the mirror loop of every
replica rebuilds the copy. A revocation is committed first, then written to Redis (retried
until Redis takes it, see core/cache/pending.py) and announced to every replica. Refresh
tokens are spent in the database only: their single use survives any Redis restart.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.cache.invalidation import Invalidations
from backend.core.cache.pending import PendingWrites
from backend.core.cache.protocol import Cache
from backend.core.database.base import utcnow
from backend.core.database.manager import AsyncDatabaseManager
from backend.core.database.upsert import conflict_insert
from backend.core.security.revocation import MIRRORED_KEY, session_key, user_invalidation
from backend.core.security.tokens import TokenClaims
from backend.models.revocation import RevokedSession, UsedRefreshToken

logger = structlog.get_logger(__name__)

MIRROR_CHECK_INTERVAL = 1.0
PURGE_INTERVAL = 300.0
PURGE_BATCH = 5_000
# Rows outlive the tokens they concern by this much (clock differences between replicas).
EXPIRY_MARGIN = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class SpentRefreshToken:
    """When, and from which client, a refresh token was exchanged before."""

    used_at: datetime
    client: str


async def session_revoked(session: AsyncSession, session_id: str) -> bool:
    """True if the database records this session revoked."""
    statement = select(RevokedSession.session_id).where(RevokedSession.session_id == session_id)
    return (await session.execute(statement)).first() is not None


class RevocationStore:
    """Revoked sessions (database first, then Redis) and single-use refresh tokens."""

    def __init__(
        self,
        database: AsyncDatabaseManager,
        cache: Cache,
        invalidations: Invalidations,
        *,
        session_lifetime: timedelta,
        check_interval: float = MIRROR_CHECK_INTERVAL,
        purge_interval: float = PURGE_INTERVAL,
    ) -> None:
        self.database = database
        self.cache = cache
        self.invalidations = invalidations
        self.pending = PendingWrites(cache)
        # Every token of a session expires at most this long after the session is revoked.
        self.session_lifetime = session_lifetime + EXPIRY_MARGIN
        self.check_interval = check_interval
        self.purge_interval = purge_interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def is_revoked(self, session: AsyncSession, claims: TokenClaims) -> bool:
        """True if the token's session was revoked: from Redis's copy, else the database."""
        revoked, mirrored = await self.cache.get_many(session_key(claims.session_id), MIRRORED_KEY)
        if mirrored is not None and not self.pending.count:
            return revoked is not None
        self.request_reload()
        return await session_revoked(session, claims.session_id)

    async def revoke_session(self, session: AsyncSession, claims: TokenClaims) -> None:
        """Revoke every token of the session `claims` belongs to.

        Commits the caller's transaction: the revocation must hold even when the request
        goes on to fail (a replayed refresh token is answered 401, which rolls back).
        """
        expires_at = utcnow() + self.session_lifetime
        statement = (
            conflict_insert(session, RevokedSession)
            .values(
                session_id=claims.session_id,
                user_id=claims.user_id,
                revoked_at=utcnow(),
                expires_at=expires_at,
            )
            .on_conflict_do_nothing(index_elements=["session_id"])
        )
        await session.execute(statement)
        await session.commit()
        ttl = (expires_at - utcnow()).total_seconds()
        await self.pending.write(session_key(claims.session_id), 1, ttl)
        await self.invalidations.publish(user_invalidation(claims.user_id))

    @staticmethod
    async def spend_refresh_token(
        session: AsyncSession, claims: TokenClaims, *, client: str, used_at: datetime
    ) -> SpentRefreshToken | None:
        """Mark a refresh token used; None the first time, else how it was used before.

        Concurrent spends of one token are ordered by the primary key: one inserts, the
        others wait for its commit and then read its row.
        """
        statement = (
            conflict_insert(session, UsedRefreshToken)
            .values(
                jti=claims.jti,
                user_id=claims.user_id,
                session_id=claims.session_id,
                used_at=used_at,
                client=client,
                expires_at=claims.expires_at + EXPIRY_MARGIN,
            )
            .on_conflict_do_nothing(index_elements=["jti"])
            .returning(UsedRefreshToken.jti)
        )
        if (await session.execute(statement)).first() is not None:
            return None
        spent = select(UsedRefreshToken.used_at, UsedRefreshToken.client).where(
            UsedRefreshToken.jti == claims.jti
        )
        row = (await session.execute(spent)).first()
        if row is None:  # purged in between: it expired long ago, so this is no retry
            return SpentRefreshToken(datetime.min.replace(tzinfo=used_at.tzinfo), "")
        return SpentRefreshToken(row.used_at, row.client)

    # The copy in Redis

    def request_reload(self) -> None:
        """Have the mirror loop check the copy now (a check found it missing)."""
        self._wake.set()

    async def reload(self) -> int:
        """Copy every live revoked session into Redis, then mark the copy complete.

        One MULTI/EXEC: a Redis that restarts meanwhile ends with all of it or none.
        Returns the sessions copied, or -1 when Redis refused them.
        """
        now = utcnow()
        statement = select(RevokedSession.session_id, RevokedSession.expires_at).where(
            RevokedSession.expires_at > now
        )
        async with self.database.session() as session:
            rows = (await session.execute(statement)).all()
        entries: dict[str, tuple[object, float | None]] = {
            session_key(row.session_id): (1, (row.expires_at - now).total_seconds()) for row in rows
        }
        entries[MIRRORED_KEY] = (1, None)
        if not await self.cache.set_many(entries):
            return -1
        return len(rows)

    async def purge(self, batch: int = PURGE_BATCH) -> int:
        """Delete the rows of sessions and refresh tokens expired by now; how many."""
        now = utcnow()
        purged = 0
        for model, key in (
            (RevokedSession, RevokedSession.session_id),
            (UsedRefreshToken, UsedRefreshToken.jti),
        ):
            while True:
                expired = select(key).where(model.expires_at <= now).limit(batch)
                async with self.database.session() as session:
                    result = await session.execute(delete(model).where(key.in_(expired)))
                deleted = int(getattr(result, "rowcount", 0) or 0)
                purged += deleted
                if deleted < batch:
                    break
        return purged

    async def start(self) -> None:
        """Copy the revocations into Redis if needed, then keep the copy whole."""
        await self.pending.start()
        await self._check_copy()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="revocation-mirror")

    async def stop(self) -> None:
        """Stop the mirror loop and the pending writes."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self.pending.stop()

    async def _check_copy(self) -> None:
        try:
            await self.cache.ping()
        except Exception:  # unreachable: checks ask the database meanwhile
            return
        try:
            if await self.cache.get(MIRRORED_KEY) is None:
                copied = await self.reload()
                if copied >= 0:
                    logger.info("revocations_mirrored", sessions=copied)
        except Exception as exc:  # the database is away: next time
            logger.warning("revocation_mirror_failed", error=repr(exc))

    async def _run(self) -> None:
        next_purge = time.monotonic() + self.purge_interval
        while True:
            try:
                async with asyncio.timeout(self.check_interval):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            await self._check_copy()
            if time.monotonic() >= next_purge:
                next_purge = time.monotonic() + self.purge_interval
                try:
                    if purged := await self.purge():
                        logger.info("revocations_purged", rows=purged)
                except Exception as exc:
                    logger.warning("revocation_purge_failed", error=repr(exc))
