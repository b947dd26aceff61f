"""Event buses: the in-process one always, Redis pub/sub between two buses when available."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as redis
from prometheus_client import REGISTRY

from backend.core.messaging import MemoryMessaging, RedisMessaging
from backend.services.stream.bus import EventBus, StreamEvent
from tests.conftest import TEST_REDIS_URL
from tests.services.stream.conftest import WAIT

ORDER = StreamEvent("order", 7, "IF2412.CFFEX", {"id": 1, "status": "filled"})


class Inbox:
    """A bus listener that queues what it receives."""

    def __init__(self) -> None:
        self.events: asyncio.Queue[StreamEvent] = asyncio.Queue()

    def __call__(self, event: StreamEvent) -> None:
        self.events.put_nowait(event)

    async def next(self) -> StreamEvent:
        """The next event."""
        return await asyncio.wait_for(self.events.get(), WAIT)


def test_events_round_trip_as_json() -> None:
    event, origin = StreamEvent.from_json(ORDER.to_json("replica-a"))
    assert (event, origin) == (ORDER, "replica-a")


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        '{"topic": "news", "user_id": null, "symbol": null, "data": {}}',
        '{"topic": "order", "user_id": "7", "symbol": null, "data": {}}',
        '{"topic": "order", "user_id": 7, "symbol": null, "data": []}',
        '{"topic": "order"}',
    ],
)
def test_foreign_messages_are_refused(raw: str) -> None:
    with pytest.raises((ValueError, KeyError)):
        StreamEvent.from_json(raw)


async def test_memory_bus_delivers_to_every_listener_and_survives_a_failing_one() -> None:
    bus, inbox = EventBus(MemoryMessaging()), Inbox()

    def broken(event: StreamEvent) -> None:
        raise RuntimeError("listener bug")

    bus.add_listener(broken)
    bus.add_listener(inbox)
    await bus.start()
    bus.publish(ORDER)  # does not raise
    assert await inbox.next() == ORDER
    await bus.stop()


def _errors(operation: str) -> float:
    return (
        REGISTRY.get_sample_value("redfire_stream_bus_errors_total", {"operation": operation})
        or 0.0
    )


async def _until(condition: Callable[[], bool]) -> None:
    """Wait for a metric to move (a background task's failure has no other signal)."""
    async with asyncio.timeout(WAIT):
        while not condition():  # noqa: ASYNC110 - a counter has no event to wait on
            await asyncio.sleep(0.01)


async def test_publishing_without_redis_is_local_and_counted() -> None:
    client = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    messaging = RedisMessaging.on_client(client, "nowhere:")
    bus, inbox = EventBus(messaging, reconnect_max_seconds=0.1), Inbox()
    bus.add_listener(inbox)
    failed = _errors("publish")
    await bus.start()
    try:
        bus.publish(ORDER)  # never raises into the publisher
        assert await inbox.next() == ORDER
        await _until(lambda: _errors("publish") > failed)
        await _until(lambda: _errors("receive") > 0)
    finally:
        await bus.stop()
        await client.aclose()


needs_redis = pytest.mark.skipif(TEST_REDIS_URL is None, reason="needs TEST_REDIS_URL")


@pytest.fixture
async def buses() -> AsyncIterator[tuple[EventBus, EventBus, redis.Redis]]:
    """Two buses (two replicas) on one prefix, both subscribed."""
    assert TEST_REDIS_URL is not None
    name = f"redfire-test-bus-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(TEST_REDIS_URL, decode_responses=True, client_name=name)
    prefix = f"{name}:"
    first = EventBus(RedisMessaging.on_client(client, prefix), reconnect_max_seconds=0.2)
    second = EventBus(RedisMessaging.on_client(client, prefix), reconnect_max_seconds=0.2)
    for bus in (first, second):
        await bus.start()
        await asyncio.wait_for(bus.subscribed.wait(), WAIT)
    yield first, second, client
    for bus in (first, second):
        await bus.stop()
    await client.aclose()


@needs_redis
async def test_an_event_reaches_the_other_replica_once_and_is_not_echoed(
    buses: tuple[EventBus, EventBus, redis.Redis],
) -> None:
    first, second, _ = buses
    here, there = Inbox(), Inbox()
    first.add_listener(here)
    second.add_listener(there)
    first.publish(ORDER)
    assert await here.next() == ORDER  # at once, locally
    assert await there.next() == ORDER  # through Redis
    reply = StreamEvent("order", 7, None, {"id": 2})
    second.publish(reply)
    # Same channel, so in order: an echo of ORDER would arrive before the reply.
    assert await here.next() == reply
    assert await there.next() == reply
    assert here.events.empty()
    assert there.events.empty()


@needs_redis
async def test_the_subscriber_reconnects_after_its_connection_is_killed(
    buses: tuple[EventBus, EventBus, redis.Redis],
) -> None:
    first, second, client = buses
    there = Inbox()
    second.add_listener(there)
    name = (await client.client_getname()) or ""
    killed = 0
    for entry in await client.client_list(_type="pubsub"):
        if entry.get("name") == name:
            await client.client_kill_filter(_id=entry["id"])
            killed += 1
    assert killed == 2
    # Both readers reconnect with back-off; publish until one gets through.
    async with asyncio.timeout(WAIT):
        while True:
            first.publish(ORDER)
            try:
                assert await asyncio.wait_for(there.events.get(), 0.2) == ORDER
                break
            except TimeoutError:
                continue
    assert _errors("receive") > 0


@needs_redis
async def test_a_burst_travels_packed_in_order_and_is_not_echoed(
    buses: tuple[EventBus, EventBus, redis.Redis],
) -> None:
    first, second, client = buses
    here, there = Inbox(), Inbox()
    first.add_listener(here)
    second.add_listener(there)
    orders = [StreamEvent("order", 7, None, {"id": n}) for n in range(5)]
    burst = [*orders, StreamEvent("trade", 7, None, {"id": 1}), ORDER]
    assert isinstance(first.messaging, RedisMessaging)
    async with client.pubsub(ignore_subscribe_messages=True) as wire:
        await wire.subscribe(first.messaging.channel(first.channels["order"]))
        for event in burst:  # one loop iteration: the writer takes them as one batch
            first.publish(event)
        assert [await there.next() for _ in burst] == burst  # in order, across topics
        messages = []
        async with asyncio.timeout(WAIT):
            while len(messages) < 2:
                message = await wire.get_message(timeout=WAIT)
                if message is not None:
                    messages.append(message["data"])
    # Five consecutive order events as one message, then the one after the trade.
    assert [message.count('"topic":"order"') for message in messages] == [5, 1]
    assert [await here.next() for _ in burst] == burst
    reply = StreamEvent("order", 7, None, {"id": 9})
    second.publish(reply)
    assert await here.next() == reply  # no echo of the burst came before it
    assert here.events.empty()
