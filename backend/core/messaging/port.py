"""The messaging port: channels, leases and a key-value store shared by the replicas.

One implementation is chosen at start-up (`create_messaging`): Redis when `REDIS__URL` is
set, so every replica hears every other; otherwise memory, one process on its own. Users
publish and subscribe on channel names without the key prefix; the implementation adds it.

A publish reaches the subscriptions of the other processes on the same broker; whether the
publisher's own subscriptions hear it back is left open (Redis echoes, memory does not), so
users deliver to themselves first and tolerate an echo.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Protocol

from backend.core.cache.protocol import Cache

MessageHandler = Callable[[str], None]
Notice = Callable[[], None]
ErrorNotice = Callable[[BaseException], None]


class MessagingUnavailableError(ConnectionError):
    """The broker could not be reached (an OSError, so callers that expect I/O errors see it)."""


def nothing() -> None:
    """The default notice: nobody asked to be told."""
    return None


def ignore_error(exc: BaseException) -> None:
    """The default error notice (the subscription logs the error itself)."""
    return None


class Subscription(Protocol):
    """Channels followed until stopped; each message handed to the handler on the loop."""

    @property
    def listening(self) -> asyncio.Event:
        """Set while no message on the channels can be missed."""

    async def start(self) -> None:
        """Follow the channels (in the background; `listening` tells when confirmed)."""

    async def stop(self) -> None:
        """Stop following; `on_lost` is called."""


class LeaseStore(Protocol):
    """Named leases with an owner and an expiry; MessagingUnavailableError when unreachable."""

    async def acquire(self, name: str, owner: str, ttl: float) -> bool:
        """Take the lease if free (or already ours, extending it); True if `owner` holds it."""
        ...

    async def renew(self, name: str, owner: str, ttl: float) -> bool:
        """Extend the lease only if `owner` still holds it."""
        ...

    async def release(self, name: str, owner: str) -> None:
        """Give the lease up if `owner` holds it."""
        ...

    async def owner_of(self, name: str) -> str | None:
        """The current holder, or None."""
        ...


class Messaging(Protocol):
    """Publish/subscribe on channels, leases, and a key-value store, for one process."""

    @property
    def backend(self) -> str:
        """`memory` or `redis`."""

    @property
    def shared(self) -> bool:
        """True when other processes may hear what this one publishes (replicas)."""

    @property
    def cache(self) -> Cache:
        """The key-value store: JSON values with expiry; failures degrade to misses."""

    @property
    def leases(self) -> LeaseStore:
        """Ownership leases."""

    async def publish(self, channel: str, message: str) -> int:
        """Send `message` on `channel`; how many subscriptions heard it.

        Raises MessagingUnavailableError when the broker cannot be reached.
        """

    async def publish_many(self, messages: Sequence[tuple[str, str]]) -> None:
        """Send each `(channel, message)` in order, in one round trip; raises like publish."""

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
    ) -> Subscription:
        """A subscription to `channels`, started by its `start`.

        `on_subscribed` is called each time the subscription is confirmed, `on_lost` each time
        messages could be missed from then on (the connection dropped, or stop), `on_error`
        with each connection failure (a MessagingUnavailableError). A handler that raises is
        logged; the subscription goes on.
        """

    async def close(self) -> None:
        """Release connections."""
