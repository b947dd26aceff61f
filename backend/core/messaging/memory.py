"""MemoryMessaging: channels, leases and a cache within one process.

A process on its own has nobody to publish to. Several MemoryMessaging on one MemoryBroker
stand for several replicas sharing a broker (as tests do): what one publishes, the others'
subscriptions hear at once, and they share the broker's cache and leases.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog

from backend.core.cache.memory import MemoryCache
from backend.core.messaging.leases import MemoryLeaseStore
from backend.core.messaging.port import (
    ErrorNotice,
    MessageHandler,
    Notice,
    ignore_error,
    nothing,
)

logger = structlog.get_logger(__name__)


class MemoryBroker:
    """The channels, cache and leases that MemoryMessaging endpoints on it share."""

    def __init__(self) -> None:
        self.cache = MemoryCache()
        self.leases = MemoryLeaseStore()
        self._subscriptions: dict[str, list[MemorySubscription]] = {}

    def attach(self, subscription: MemorySubscription) -> None:
        """Deliver the subscription's channels to it from now on."""
        for channel in subscription.channels:
            self._subscriptions.setdefault(channel, []).append(subscription)

    def detach(self, subscription: MemorySubscription) -> None:
        """Deliver nothing more to it."""
        for channel in subscription.channels:
            listeners = self._subscriptions.get(channel, [])
            if subscription in listeners:
                listeners.remove(subscription)

    def deliver(self, channel: str, message: str, sender: MemoryMessaging) -> int:
        """Hand `message` to the other endpoints' subscriptions of `channel`; how many heard."""
        receivers = [s for s in self._subscriptions.get(channel, ()) if s.endpoint is not sender]
        for subscription in receivers:
            subscription.deliver(message)
        return len(receivers)


class MemorySubscription:
    """In one process no message can be missed: listening from creation until stopped."""

    def __init__(
        self,
        broker: MemoryBroker,
        endpoint: MemoryMessaging,
        channels: Sequence[str],
        on_message: MessageHandler,
        *,
        name: str,
        on_subscribed: Notice,
        on_lost: Notice,
    ) -> None:
        self.broker = broker
        self.endpoint = endpoint
        self.channels = tuple(channels)
        self.name = name
        self._on_message = on_message
        self._on_subscribed = on_subscribed
        self._on_lost = on_lost
        self._listening = asyncio.Event()
        self._attach()

    @property
    def listening(self) -> asyncio.Event:
        """Set until stopped."""
        return self._listening

    def _attach(self) -> None:
        self.broker.attach(self)
        self._listening.set()
        self._on_subscribed()

    async def start(self) -> None:
        """Listen again after a stop (a new subscription listens already)."""
        if not self._listening.is_set():
            self._attach()

    async def stop(self) -> None:
        """Stop listening."""
        self.broker.detach(self)
        self._listening.clear()
        self._on_lost()

    def deliver(self, message: str) -> None:
        """Hand one message on; a handler that raises is logged."""
        try:
            self._on_message(message)
        except Exception:
            logger.exception("subscription_handler_failed", subscription=self.name)


class MemoryMessaging:
    """The embedded default: one process, unless several share a broker."""

    backend = "memory"

    def __init__(self, broker: MemoryBroker | None = None) -> None:
        self._shared = broker is not None
        self.broker = broker or MemoryBroker()

    @property
    def shared(self) -> bool:
        """True when other endpoints share the broker."""
        return self._shared

    @property
    def cache(self) -> MemoryCache:
        """The broker's cache."""
        return self.broker.cache

    @property
    def leases(self) -> MemoryLeaseStore:
        """The broker's leases."""
        return self.broker.leases

    async def publish(self, channel: str, message: str) -> int:
        """Deliver to the other endpoints' subscriptions at once."""
        return self.broker.deliver(channel, message, self)

    async def publish_many(self, messages: Sequence[tuple[str, str]]) -> None:
        """Deliver each, in order."""
        for channel, message in messages:
            self.broker.deliver(channel, message, self)

    def subscribe(
        self,
        channels: Sequence[str],
        on_message: MessageHandler,
        *,
        name: str,
        on_subscribed: Notice = nothing,
        on_lost: Notice = nothing,
        on_error: ErrorNotice = ignore_error,
        reconnect_max_seconds: float = 5.0,
    ) -> MemorySubscription:
        """A subscription listening at once (it cannot lose a connection)."""
        return MemorySubscription(
            self.broker,
            self,
            channels,
            on_message,
            name=name,
            on_subscribed=on_subscribed,
            on_lost=on_lost,
        )

    async def close(self) -> None:
        """Nothing to release."""
