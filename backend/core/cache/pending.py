"""PendingWrites: cache writes that must land, retried until the shared cache takes them.

A revocation mark or an access-state tombstone the cache refused (Redis unreachable from
this replica, while it may still answer the others) is kept here and written again every
`interval` seconds until Redis takes it or its lifetime ends, so that what other replicas
read from Redis catches up with the database as soon as Redis is back.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import structlog

from backend.core.cache.protocol import Cache

logger = structlog.get_logger(__name__)

RETRY_INTERVAL = 0.25
MAX_PENDING = 100_000


class PendingWrites:
    """Writes to the shared cache that are retried in the background until they land."""

    def __init__(self, cache: Cache, *, interval: float = RETRY_INTERVAL) -> None:
        self.cache = cache
        self.interval = interval
        # key -> (value, monotonic deadline after which writing it is pointless)
        self._pending: dict[str, tuple[Any, float]] = {}
        self._queued = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def count(self) -> int:
        """Writes still waiting for the cache."""
        return len(self._pending)

    async def write(self, key: str, value: Any, ttl: float) -> bool:
        """Store `value` for `ttl` seconds now, or keep retrying; True if stored now."""
        self._pending.pop(key, None)  # this write supersedes one still waiting
        if await self.cache.set(key, value, ttl):
            return True
        if len(self._pending) >= MAX_PENDING:
            self._pending.pop(next(iter(self._pending)))
        self._pending[key] = (value, time.monotonic() + ttl)
        self._queued.set()
        logger.warning("cache_write_pending", key=key.partition(":")[0], pending=self.count)
        return False

    async def flush(self) -> bool:
        """Write everything pending at once; True when nothing is left."""
        now = time.monotonic()
        taken = {key: entry for key, entry in self._pending.items() if entry[1] > now}
        entries = {key: (value, deadline - now) for key, (value, deadline) in taken.items()}
        if entries and not await self.cache.set_many(entries):
            return False
        # Only what was written: a write queued meanwhile for the same key stays.
        self._pending = {
            key: entry
            for key, entry in self._pending.items()
            if entry[1] > now and taken.get(key) is not entry
        }
        return not self._pending

    async def start(self) -> None:
        """Retry in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="pending-cache-writes")

    async def stop(self) -> None:
        """Stop retrying."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await self._queued.wait()
            if not await self.flush():
                await asyncio.sleep(self.interval)  # Redis still refuses: again shortly
                continue
            self._queued.clear()
            logger.info("cache_writes_caught_up")
