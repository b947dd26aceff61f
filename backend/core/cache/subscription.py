"""ChannelSubscription: one Redis pub/sub channel, kept subscribed, each message handed on.

Shared by the listeners that each follow one channel (invalidations, relayed cancels, the
paper market's ticks): a lost connection is logged, waited out with back-off and subscribed
again; `listening` is set only while Redis has confirmed the subscription. A connection that
stays open while Redis answers nothing (Redis paused, a network path that drops packets)
counts as lost too: an idle subscription pings Redis, and one that hears nothing for
STALL_SECONDS drops the connection and subscribes again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import redis.asyncio as redis
import structlog
from redis.exceptions import RedisError

from backend.core.cache.backoff import Backoff

logger = structlog.get_logger(__name__)

READ_TIMEOUT = 1.0  # also how often an idle subscription pings Redis
STALL_SECONDS = 2.0  # silence (not even a pong) after which the connection counts as lost


class SubscriptionStalledError(ConnectionError):
    """Redis answered nothing, not even a ping, for STALL_SECONDS."""


def _nothing() -> None:
    return None


class ChannelSubscription:
    """Subscribe to `channel` until stopped; call `on_message(text)` for each message."""

    def __init__(
        self,
        client: redis.Redis,
        channel: str,
        on_message: Callable[[str], None],
        *,
        name: str,
        on_subscribed: Callable[[], None] = _nothing,
        on_lost: Callable[[], None] = _nothing,
        reconnect_max_seconds: float = 5.0,
    ) -> None:
        self.client = client
        self.channel = channel
        self.name = name
        self._on_message = on_message
        self._on_subscribed = on_subscribed
        self._on_lost = on_lost
        self._reconnect_max = reconnect_max_seconds
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

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
        self.listening.clear()
        self._on_lost()

    async def _listen_forever(self) -> None:
        backoff = Backoff(self._reconnect_max)
        while True:
            try:
                await self._listen(backoff)
            except (RedisError, OSError) as exc:
                self._lost()
                logger.warning("subscription_lost", subscription=self.name, error=repr(exc))
                await asyncio.sleep(backoff.next())

    async def _listen(self, backoff: Backoff) -> None:
        async with self.client.pubsub() as pubsub:
            await pubsub.subscribe(self.channel)
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
                if message["type"] == "subscribe":
                    # Confirmed: from here on, no message on the channel can be missed.
                    self.listening.set()
                    self._on_subscribed()
                    backoff.reset()
                elif message["type"] == "message":
                    data = message["data"]
                    self._deliver(data.decode() if isinstance(data, bytes) else str(data))

    def _deliver(self, text: str) -> None:
        try:
            self._on_message(text)
        except Exception:  # one bad message must not end the subscription
            logger.exception("subscription_handler_failed", subscription=self.name)
