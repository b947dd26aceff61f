"""Invalidations: tell every replica's in-process caches that something they hold changed.

An in-process cache may answer without a round trip only while it cannot miss a message: its
entries carry the `epoch` they were filled in, and count only while that epoch is current.
With Redis, an epoch begins once the replica's subscription is confirmed and ends when the
connection drops, so entries from before an outage are never trusted again. `generation`
moves with every message and every epoch: a cache compares it before and after a read, and
keeps what it read only if nothing was invalidated meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

import redis.asyncio as redis
import structlog
from redis.exceptions import RedisError

from backend.core.cache.backoff import Backoff
from backend.core.cache.protocol import Cache
from backend.core.cache.redis_service import RedisCacheService

logger = structlog.get_logger(__name__)

Listener = Callable[[str], None]
READ_TIMEOUT = 1.0


class Invalidations(Protocol):
    """Publish invalidated keys to every replica, this one first."""

    @property
    def epoch(self) -> int | None:
        """The current epoch; None while messages could be missed (trust no local entry)."""

    @property
    def generation(self) -> int:
        """Moves on every message and every epoch change."""

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(key)` on the loop for every invalidated key, local or remote."""

    async def publish(self, key: str) -> None:
        """Invalidate `key` here at once, and on the other replicas as soon as they hear."""

    async def start(self) -> None:
        """Start listening."""

    async def stop(self) -> None:
        """Stop listening; no epoch is current afterwards."""


class _Local:
    """One process: every message is delivered as it is published, so nothing is missed."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._generation = 0
        self._epoch: int | None = 0

    @property
    def epoch(self) -> int | None:
        """The current epoch, or None."""
        return self._epoch

    @property
    def generation(self) -> int:
        """Moves on every message and every epoch change."""
        return self._generation

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(key)` for every invalidated key."""
        self._listeners.append(listener)

    def _deliver(self, key: str) -> None:
        self._generation += 1
        for listener in self._listeners:
            listener(key)

    def _set_epoch(self, epoch: int | None) -> None:
        self._generation += 1
        self._epoch = epoch

    async def publish(self, key: str) -> None:
        """Deliver to this process's listeners."""
        self._deliver(key)

    async def start(self) -> None:
        """Nothing to start."""

    async def stop(self) -> None:
        """Nothing to stop."""


class LocalInvalidations(_Local):
    """The embedded default, beside the in-memory cache: always in epoch 0."""


class RedisInvalidations(_Local):
    """Redis pub/sub on one channel under the key prefix."""

    def __init__(self, client: redis.Redis, prefix: str, *, reconnect_max_seconds: float = 5.0):
        super().__init__()
        self.client = client
        self.channel = f"{prefix}invalidate"
        self._epoch = None
        self._epochs = 0
        self._reconnect_max = reconnect_max_seconds
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    async def publish(self, key: str) -> None:
        """Deliver here, then to the other replicas; a failure is logged (their entries expire)."""
        self._deliver(key)
        try:
            await self.client.publish(self.channel, key)
        except (RedisError, OSError) as exc:
            logger.warning("invalidation_publish_failed", key=key, error=repr(exc))

    async def start(self) -> None:
        """Start the listener; the first epoch begins once Redis confirms the subscription."""
        if self._task is None:
            self._task = asyncio.create_task(self._listen_forever(), name="invalidations")

    async def stop(self) -> None:
        """Stop listening."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._end_epoch()

    def _end_epoch(self) -> None:
        self.listening.clear()
        self._set_epoch(None)

    async def _listen_forever(self) -> None:
        backoff = Backoff(self._reconnect_max)
        while True:
            try:
                await self._listen(backoff)
            except (RedisError, OSError) as exc:
                self._end_epoch()
                logger.warning("invalidation_listener_lost", error=repr(exc))
                await asyncio.sleep(backoff.next())

    async def _listen(self, backoff: Backoff) -> None:
        async with self.client.pubsub() as pubsub:
            await pubsub.subscribe(self.channel)
            while True:
                message = await pubsub.get_message(timeout=READ_TIMEOUT)
                if message is None:
                    continue
                if message["type"] == "subscribe":
                    # Confirmed: from here on, no message for this channel can be missed.
                    self._epochs += 1
                    self._set_epoch(self._epochs)
                    self.listening.set()
                    backoff.reset()
                elif message["type"] == "message":
                    self._deliver(str(message["data"]))


def create_invalidations(cache: Cache) -> Invalidations:
    """Redis pub/sub beside the Redis cache, otherwise in-process."""
    if isinstance(cache, RedisCacheService):
        return RedisInvalidations(cache.client, cache.prefix)
    return LocalInvalidations()
