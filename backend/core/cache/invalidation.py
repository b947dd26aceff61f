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

import structlog

from backend.core.messaging.port import Messaging, MessagingUnavailableError

logger = structlog.get_logger(__name__)

Listener = Callable[[str], None]
CHANNEL = "invalidate"


class Invalidations:
    """Invalidated keys on one channel of the messaging port, delivered here first.

    In one process every message is delivered as it is published, so the first epoch begins
    at once and never ends before `stop`; with Redis it begins once the subscription is
    confirmed.
    """

    def __init__(self, messaging: Messaging, *, reconnect_max_seconds: float = 5.0) -> None:
        self.messaging = messaging
        self._listeners: list[Listener] = []
        self._generation = 0
        self._epoch: int | None = None
        self._epochs = 0
        self._subscription = messaging.subscribe(
            [CHANNEL],
            self._deliver,
            name="invalidations",
            on_subscribed=self._begin_epoch,
            on_lost=self._end_epoch,
            reconnect_max_seconds=reconnect_max_seconds,
        )

    @property
    def epoch(self) -> int | None:
        """The current epoch; None while messages could be missed (trust no local entry)."""
        return self._epoch

    @property
    def generation(self) -> int:
        """Moves on every message and every epoch change."""
        return self._generation

    @property
    def listening(self) -> asyncio.Event:
        """Set while no invalidation can be missed."""
        return self._subscription.listening

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(key)` on the loop for every invalidated key, local or remote."""
        self._listeners.append(listener)

    async def publish(self, key: str) -> None:
        """Invalidate `key` here at once, then on the other replicas (a failure is logged:
        their entries expire)."""
        self._deliver(key)
        try:
            await self.messaging.publish(CHANNEL, key)
        except MessagingUnavailableError as exc:
            logger.warning("invalidation_publish_failed", key=key, error=str(exc))

    async def start(self) -> None:
        """Start listening; with Redis the next epoch begins once it confirms."""
        await self._subscription.start()

    async def stop(self) -> None:
        """Stop listening; no epoch is current afterwards."""
        await self._subscription.stop()

    def _deliver(self, key: str) -> None:
        self._generation += 1
        for listener in self._listeners:
            listener(key)

    def _set_epoch(self, epoch: int | None) -> None:
        self._generation += 1
        self._epoch = epoch

    def _begin_epoch(self) -> None:
        # Confirmed: from here on, no message for this channel can be missed.
        self._set_epoch(self._epochs)
        self._epochs += 1

    def _end_epoch(self) -> None:
        self._set_epoch(None)
