"""HeldConnections: asyncpg connections kept out of SQLAlchemy's pool for one-statement reads.

A checkout from SQLAlchemy's pool and the check-in after it (its bookkeeping, events, and a
greenlet switch each way) cost more CPU than the single-row read they serve, which on
GET /orders/{id} ran on every request. DriverQuery reads are autocommit statements that leave
nothing behind on the connection, so the connections they use are kept and handed from one
read to the next: up to `limit` are taken from the pool as concurrent reads need them, the most
recently used first. One goes back to the pool when it has been held `recycle` seconds (for the
pool's own recycling), when it fails other than by the server refusing a statement, or on
`close()`.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn


class HeldConnectionLostError(ConnectionError):
    """A held connection failed under a statement (the server ended it, say); it was dropped.

    A ConnectionError: the API answers 503 `database_unavailable`, and a read may be repeated.
    """


# What a connection that died under a statement raises (a PostgresError only if it closed).
_LOST = (asyncpg.InterfaceError, asyncpg.InternalClientError, asyncpg.PostgresError, OSError)


@dataclass(slots=True)
class _Held:
    pooled: Any  # SQLAlchemy's _ConnectionFairy, checked out
    driver: asyncpg.Connection
    since: float


class HeldConnections:
    """Up to `limit` pooled connections kept checked out and reused by reads (PostgreSQL)."""

    def __init__(self, engine: AsyncEngine, *, limit: int, recycle: float) -> None:
        self._engine = engine
        self._limit = limit
        self._recycle = recycle
        self._idle: list[_Held] = []  # a stack: the warmest connection first
        # Reads waiting for a connection, first come first served: each gets a connection
        # handed over, or None when one was dropped and it may take a fresh one.
        self._waiters: deque[asyncio.Future[_Held | None]] = deque()
        self.held = 0  # taken from the pool and not given back, in use or idle

    async def fetchrow(self, sql: str, values: Sequence[Any]) -> asyncpg.Record | None:
        """Run one statement (no transaction) on a held connection; its first row or None."""
        held = await self._acquire()
        try:
            row: asyncpg.Record | None = await held.driver.fetchrow(sql, *values)
        except BaseException as exc:
            if isinstance(exc, asyncpg.PostgresError) and not held.driver.is_closed():
                self._release(held)  # the server refused a statement: the connection is fine
                raise
            # Broken, or cancelled mid-statement: never hand it to the next read.
            await self._drop(held, exc)
            if isinstance(exc, _LOST):
                raise HeldConnectionLostError(f"connection lost: {exc!r}") from exc
            raise
        self._release(held)
        return row

    async def close(self) -> None:
        """Give every idle connection back to the pool (before the engine is disposed)."""
        idle, self._idle = self._idle, []
        for held in idle:
            await self._drop(held, None)

    async def _acquire(self) -> _Held:
        while True:
            if self._idle:
                held = self._idle.pop()
            elif self.held < self._limit:
                return await self._take_from_pool()
            else:
                handed = await self._wait()
                if handed is None:
                    continue  # one was dropped: its place is free
                held = handed
            if held.driver.is_closed():  # the server ended it while it was idle
                await self._drop(held, ConnectionError("held connection closed by the server"))
            elif time.monotonic() - held.since >= self._recycle:
                await self._drop(held, None)
            else:
                return held

    async def _take_from_pool(self) -> _Held:
        self.held += 1
        try:
            pooled = await self._engine.raw_connection()
        except BaseException:
            self.held -= 1
            self._hand_over(None)
            raise
        return _Held(pooled, pooled.driver_connection, time.monotonic())

    async def _wait(self) -> _Held | None:
        waiter: asyncio.Future[_Held | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # handed over as it was cancelled
                handed = waiter.result()
                if handed is None:
                    self._hand_over(None)
                else:
                    self._release(handed)
            raise

    def _release(self, held: _Held) -> None:
        if not self._hand_over(held):
            self._idle.append(held)

    def _hand_over(self, held: _Held | None) -> bool:
        """Give `held` (or a free place) to the first read still waiting; False if none."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(held)
                return True
        return False

    async def _drop(self, held: _Held, error: BaseException | None) -> None:
        self.held -= 1
        try:
            if error is not None:
                held.pooled.invalidate(error)
            # In a greenlet: checking in may close the connection, which awaits.
            await greenlet_spawn(held.pooled.close)
        finally:
            self._hand_over(None)
