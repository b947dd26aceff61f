"""Event bus: live events to every replica (Redis pub/sub) or within one process (memory).

A publisher's own replica gets each event at once, in-process; Redis carries it to the
others, which skip what they sent themselves (`origin`). So a Redis outage only cuts the
other replicas off, and publishing never waits for, or raises because of, Redis. Events
published one after another on one topic travel as one message (a JSON array), so a burst
of order events costs every replica one message to read, not one per order.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, get_args

import redis.asyncio as redis
import structlog
from redis.exceptions import RedisError

from backend.core.cache.backoff import Backoff
from backend.core.monitoring.metrics import STREAM_BUS_ERRORS

logger = structlog.get_logger(__name__)

Topic = Literal["order", "trade", "tick", "strategy", "optimization"]
TOPICS: tuple[Topic, ...] = get_args(Topic)
Listener = Callable[["StreamEvent"], None]
PUBLISH_BATCH = 500
READ_TIMEOUT = 1.0  # also how often an idle subscriber checks its connection's health
LOG_INTERVAL = 1.0


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One live event: `data` is JSON-ready (decimals as strings, ISO timestamps)."""

    topic: Topic
    user_id: int | None
    symbol: str | None
    data: dict[str, Any]

    def to_json(self, origin: str) -> str:
        """The wire form, tagged with the publishing bus."""
        return json.dumps(
            {
                "topic": self.topic,
                "user_id": self.user_id,
                "symbol": self.symbol,
                "data": self.data,
                "origin": origin,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, raw: str) -> tuple[StreamEvent, str | None]:
        """Parse the wire form; raises ValueError when it is not one of ours."""
        return cls.from_message(json.loads(raw))

    @classmethod
    def from_message(cls, message: Any) -> tuple[StreamEvent, str | None]:
        """The event in a decoded wire form; raises ValueError when it is not one of ours."""
        if not isinstance(message, dict):
            raise ValueError("an event is a JSON object")
        topic, user_id, symbol = message["topic"], message["user_id"], message["symbol"]
        data, origin = message["data"], message.get("origin")
        if topic not in TOPICS or not isinstance(data, dict):
            raise ValueError(f"unexpected event {topic!r}")
        if not (user_id is None or type(user_id) is int):
            raise ValueError("user_id must be an integer or null")
        if not (symbol is None or isinstance(symbol, str)):
            raise ValueError("symbol must be a string or null")
        return cls(topic, user_id, symbol, data), origin if isinstance(origin, str) else None


class EventBus(Protocol):
    """Publish/subscribe of StreamEvents; publish never raises and never blocks."""

    backend: str

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(event)` on the loop for each event, local or remote."""

    def publish(self, event: StreamEvent) -> None:
        """Deliver to local listeners now and to other replicas soon."""

    async def start(self) -> None:
        """Start delivering (events published before are delivered locally only)."""

    async def stop(self) -> None:
        """Stop background work; publishing after stop is local only."""


class _Listeners:
    """Local delivery shared by both buses: a failing listener is logged, never re-raised."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(event)` for each event."""
        self._listeners.append(listener)

    def _deliver(self, event: StreamEvent) -> None:
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                logger.exception("stream_listener_failed", topic=event.topic)


class MemoryEventBus(_Listeners):
    """The embedded default: one process, so local delivery is all there is."""

    backend = "memory"

    def publish(self, event: StreamEvent) -> None:
        """Deliver to local listeners."""
        self._deliver(event)

    async def start(self) -> None:
        """Nothing to start."""

    async def stop(self) -> None:
        """Nothing to stop."""


class RedisEventBus(_Listeners):
    """Redis pub/sub, one channel per topic under the key prefix; one reader, one writer."""

    backend = "redis"

    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        *,
        outbox_size: int = 10_000,
        reconnect_max_seconds: float = 5.0,
    ) -> None:
        super().__init__()
        self.client = client
        self.origin = uuid.uuid4().hex
        self._own_suffix = f'"origin":"{self.origin}"}}'
        self._own_packed_suffix = f"{self._own_suffix}]"
        self.channels = {topic: f"{prefix}stream:{topic}" for topic in TOPICS}
        self._outbox: asyncio.Queue[tuple[str, str]] = asyncio.Queue(outbox_size)
        self._reconnect_max = reconnect_max_seconds
        self._tasks: list[asyncio.Task[None]] = []
        self.subscribed = asyncio.Event()

    def publish(self, event: StreamEvent) -> None:
        """Deliver locally, and queue for Redis (dropped and counted when the queue is full)."""
        self._deliver(event)
        if not self._tasks:
            return
        try:
            self._outbox.put_nowait((self.channels[event.topic], event.to_json(self.origin)))
        except asyncio.QueueFull:
            _failed("outbox_full", None)
        except (TypeError, ValueError) as exc:
            _failed("publish", exc)

    async def start(self) -> None:
        """Start the reader and the writer."""
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._read_forever(), name="stream-bus-reader"),
                asyncio.create_task(self._write_forever(), name="stream-bus-writer"),
            ]

    async def stop(self) -> None:
        """Cancel both tasks; events still queued for Redis are dropped."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.subscribed.clear()

    async def _read_forever(self) -> None:
        backoff = Backoff(self._reconnect_max)
        while True:
            try:
                await self._read(backoff)
            except (RedisError, OSError) as exc:
                self.subscribed.clear()
                _failed("receive", exc)
                await asyncio.sleep(backoff.next())

    async def _read(self, backoff: Backoff) -> None:
        async with self.client.pubsub(ignore_subscribe_messages=True) as pubsub:
            await pubsub.subscribe(*self.channels.values())
            self.subscribed.set()
            backoff.reset()
            while True:
                message = await pubsub.get_message(timeout=READ_TIMEOUT)
                if message is not None and message.get("type") == "message":
                    self._receive(message["data"])

    def _receive(self, raw: Any) -> None:
        if isinstance(raw, str) and (
            raw.endswith(self._own_suffix) or raw.endswith(self._own_packed_suffix)
        ):
            return  # our own events (to_json writes `origin` last): delivered when published
        try:
            decoded = json.loads(raw)
            messages = decoded if isinstance(decoded, list) else [decoded]
            events = [StreamEvent.from_message(message) for message in messages]
        except (ValueError, KeyError, TypeError) as exc:
            _failed("decode", exc)
            return
        for event, origin in events:
            if origin != self.origin:
                self._deliver(event)

    async def _write_forever(self) -> None:
        backoff = Backoff(self._reconnect_max)
        while True:
            batch = [await self._outbox.get()]
            while len(batch) < PUBLISH_BATCH and not self._outbox.empty():
                batch.append(self._outbox.get_nowait())
            try:
                async with self.client.pipeline(transaction=False) as pipe:
                    for channel, raw in _packed(batch):
                        pipe.publish(channel, raw)
                    await pipe.execute()
                backoff.reset()
            except (RedisError, OSError) as exc:
                STREAM_BUS_ERRORS.labels("publish").inc(len(batch) - 1)
                _failed("publish", exc)
                await asyncio.sleep(backoff.next())


def _packed(batch: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Consecutive events of one channel as one message (a JSON array); order is kept."""
    runs: list[tuple[str, list[str]]] = []
    for channel, raw in batch:
        if runs and runs[-1][0] == channel:
            runs[-1][1].append(raw)
        else:
            runs.append((channel, [raw]))
    return [
        (channel, raws[0] if len(raws) == 1 else f"[{','.join(raws)}]") for channel, raws in runs
    ]


_last_logged: dict[str, float] = {}


def _failed(operation: str, exc: BaseException | None) -> None:
    STREAM_BUS_ERRORS.labels(operation).inc()
    now = time.monotonic()
    # At most one line per operation and second: an outage must not flood the logs.
    if now - _last_logged.get(operation, -LOG_INTERVAL) >= LOG_INTERVAL:
        _last_logged[operation] = now
        logger.warning(
            "stream_bus_error", operation=operation, error=None if exc is None else repr(exc)
        )
