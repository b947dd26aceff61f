"""Housekeeping of the order tables: expired Idempotency-Keys are deleted.

A key answers retries for 24 hours; after that its row (with the stored answer) is only
weight. Every replica purges every few minutes, in batches, so the table holds about a
day of keys however long RedFire runs.
"""

from __future__ import annotations

import asyncio

import structlog

from backend.core.database.base import utcnow
from backend.core.database.manager import AsyncDatabaseManager
from backend.core.monitoring.metrics import IDEMPOTENCY_KEYS_PURGED
from backend.services.orders import repository

logger = structlog.get_logger(__name__)

PURGE_INTERVAL = 300.0
PURGE_BATCH = 5_000


class ExpiredKeyPurger:
    """Deletes expired Idempotency-Keys every `interval` seconds."""

    def __init__(
        self,
        database: AsyncDatabaseManager,
        *,
        interval: float = PURGE_INTERVAL,
        batch: int = PURGE_BATCH,
    ) -> None:
        self.database = database
        self.interval = interval
        self.batch = batch
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start purging in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="idempotency-key-purge")

    async def stop(self) -> None:
        """Stop purging."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def purge(self) -> int:
        """Delete every key expired by now, one batch per transaction; return how many."""
        now = utcnow()
        purged = 0
        while True:
            async with self.database.session() as session:
                deleted = await repository.purge_expired_keys(session, now, self.batch)
            purged += deleted
            IDEMPOTENCY_KEYS_PURGED.inc(deleted)
            if deleted < self.batch:
                return purged

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                if purged := await self.purge():
                    logger.info("idempotency_keys_purged", keys=purged)
            except Exception as exc:  # the database is away: next time
                logger.warning("idempotency_key_purge_failed", error=repr(exc))
