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

from backend.core.cache.protocol import Cache
from backend.core.cache.redis_service import RedisCacheService
from backend.core.cache.subscription import ChannelSubscription

logger = structlog.get_logger(__name__)

Listener = Callable[[str], None]


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
        self._subscription = ChannelSubscription(
            client,
            self.channel,
            self._deliver,
            name="invalidations",
            on_subscribed=self._begin_epoch,
            on_lost=self._end_epoch,
            reconnect_max_seconds=reconnect_max_seconds,
        )

    @property
    def listening(self) -> asyncio.Event:
        """Set while Redis has confirmed the subscription."""
        return self._subscription.listening

    async def publish(self, key: str) -> None:
        """Deliver here, then to the other replicas; a failure is logged (their entries expire)."""
        self._deliver(key)
        try:
            await self.client.publish(self.channel, key)
        except (RedisError, OSError) as exc:
            logger.warning("invalidation_publish_failed", key=key, error=repr(exc))

    async def start(self) -> None:
        """Start the listener; the first epoch begins once Redis confirms the subscription."""
        await self._subscription.start()

    async def stop(self) -> None:
        """Stop listening."""
        await self._subscription.stop()

    def _begin_epoch(self) -> None:
        # Confirmed: from here on, no message for this channel can be missed.
        self._epochs += 1
        self._set_epoch(self._epochs)

    def _end_epoch(self) -> None:
        self._set_epoch(None)


def create_invalidations(cache: Cache) -> Invalidations:
    """Redis pub/sub beside the Redis cache, otherwise in-process."""
    if isinstance(cache, RedisCacheService):
        return RedisInvalidations(cache.client, cache.prefix)
    return LocalInvalidations()
