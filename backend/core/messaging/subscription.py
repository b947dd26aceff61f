"""RedisSubscription: Redis pub/sub channels, kept subscribed, each message handed on.

A lost connection is logged, waited out with back-off and subscribed again; `listening` is
set only while Redis has confirmed every channel. A connection that stays open while Redis
answers nothing (Redis paused, a network path that drops packets) counts as lost too: an idle
subscription pings Redis, and one that hears nothing for STALL_SECONDS drops the connection
and subscribes again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import redis.asyncio as redis
import structlog
from redis.exceptions import RedisError

from backend.core.messaging.backoff import Backoff
from backend.core.messaging.port import (
    ErrorNotice,
    MessageHandler,
    MessagingUnavailableError,
    Notice,
    ignore_error,
    nothing,
)

logger = structlog.get_logger(__name__)

READ_TIMEOUT = 1.0  # also how often an idle subscription pings Redis
STALL_SECONDS = 2.0  # silence (not even a pong) after which the connection counts as lost


class SubscriptionStalledError(ConnectionError):
    """Redis answered nothing, not even a ping, for STALL_SECONDS."""


class RedisSubscription:
    """Subscribe to `channels` until stopped; call `on_message(text)` for each message."""

    def __init__(
        self,
        client: redis.Redis,
        channels: Sequence[str],
        on_message: MessageHandler,
        *,
        name: str,
        on_subscribed: Notice = nothing,
        on_lost: Notice = nothing,
        on_error: ErrorNotice = ignore_error,
        reconnect_max_seconds: float = 5.0,
    ) -> None:
        self.client = client
        self.channels = tuple(channels)
        self.name = name
        self._on_message = on_message
        self._on_subscribed = on_subscribed
        self._on_lost = on_lost
        self._on_error = on_error
        self._reconnect_max = reconnect_max_seconds
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    @property
    def listening(self) -> asyncio.Event:
        """Set while Redis has confirmed the subscription to every channel."""
        return self._listening

    async def start(self) -> None:
        """Subscribe in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._listen_forever(), name=self.name)

    async def stop(self) -> None:
        """Unsubscribe."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._lost()

    def _lost(self) -> None:
        self._listening.clear()
        self._on_lost()

    async def _listen_forever(self) -> None:
        backoff = Backoff(self._reconnect_max)
        while True:
            try:
                await self._listen(backoff)
            except (RedisError, OSError) as exc:
                self._lost()
                error = MessagingUnavailableError(repr(exc))
                error.__cause__ = exc
                self._on_error(error)
                logger.warning("subscription_lost", subscription=self.name, error=repr(exc))
                await asyncio.sleep(backoff.next())

    async def _listen(self, backoff: Backoff) -> None:
        async with self.client.pubsub() as pubsub:
            await pubsub.subscribe(*self.channels)
            confirmed = 0
            heard = time.monotonic()
            while True:
                message = await pubsub.get_message(timeout=READ_TIMEOUT)
                if message is None:
                    silent = time.monotonic() - heard
                    if silent >= STALL_SECONDS:
                        raise SubscriptionStalledError(f"no answer from Redis for {silent:.1f} s")
                    await pubsub.ping()  # answered by a pong message, unless Redis is stuck
                    continue
                heard = time.monotonic()
                kind = message["type"]
                if kind == "message":
                    data = message["data"]
                    self._deliver(data.decode() if isinstance(data, bytes) else str(data))
                elif kind == "subscribe":
                    confirmed += 1
                    if confirmed == len(self.channels):
                        # Confirmed: from here on, no message on the channels can be missed.
                        self._listening.set()
                        self._on_subscribed()
                        backoff.reset()

    def _deliver(self, text: str) -> None:
        try:
            self._on_message(text)
        except Exception:  # one bad message must not end the subscription
            logger.exception("subscription_handler_failed", subscription=self.name)
