"""The bookings' transactions: the next one begun while the current one commits.

On PostgreSQL a booking's first round trip is BEGIN. When orders already wait for the next
booking as one commits, the next transaction is begun on another pooled connection at the
same time as that COMMIT, so back-to-back bookings skip the round trip. Only then: begun
ahead, a transaction waits for the batch already queued, never sits idle in transaction
while no order comes (one older than BEGUN_AHEAD_MAX_AGE is ended and a fresh one begun).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.database.dialect import on_postgresql
from backend.core.database.driver import begin_transaction
from backend.core.database.manager import AsyncDatabaseManager

logger = structlog.get_logger(__name__)

BEGUN_AHEAD_MAX_AGE = 1.0  # seconds


@dataclass(slots=True)
class _Begun:
    context: AbstractAsyncContextManager[AsyncSession]
    session: AsyncSession
    at: float


class BookingTransactions:
    """Sessions for bookings, one after another; `waiting` says whether orders are queued."""

    def __init__(self, database: AsyncDatabaseManager, waiting: Callable[[], bool]) -> None:
        self.database = database
        self.waiting = waiting
        self._ahead: asyncio.Task[_Begun] | None = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session that commits on success and rolls back on error, as database.session()."""
        begun = await self._take()
        try:
            yield begun.session
            if self.waiting() and on_postgresql(begun.session):
                self._ahead = asyncio.ensure_future(self._begin(ahead=True))
            await begun.session.commit()
        except BaseException:
            await begun.context.__aexit__(*sys.exc_info())
            raise
        await begun.context.__aexit__(None, None, None)

    async def close(self) -> None:
        """End the transaction begun ahead, if any (the intake stops)."""
        ahead, self._ahead = self._ahead, None
        if ahead is None:
            return
        try:
            begun = await ahead
        except Exception:  # it never began: nothing to end
            return
        await begun.context.__aexit__(None, None, None)

    async def _take(self) -> _Begun:
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            try:
                begun = await ahead
            except Exception as exc:  # its connection failed: a fresh one instead
                logger.warning("booking_transaction_not_begun", error=repr(exc))
            else:
                if time.monotonic() - begun.at <= BEGUN_AHEAD_MAX_AGE:
                    return begun
                await begun.context.__aexit__(None, None, None)
        return await self._begin(ahead=False)

    async def _begin(self, *, ahead: bool) -> _Begun:
        """A session; begun now when `ahead` (otherwise its first statement begins it)."""
        context = self.database.session()
        session = await context.__aenter__()
        if ahead:
            try:
                await begin_transaction(session)
            except BaseException:
                await context.__aexit__(*sys.exc_info())
                raise
        return _Begun(context, session, time.monotonic())
