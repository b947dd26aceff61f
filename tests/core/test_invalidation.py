"""Invalidations: delivery in process, fan-out to other replicas, epochs across outages."""

from __future__ import annotations

import asyncio
import os

import pytest
import redis.asyncio as redis

from backend.core.cache.invalidation import Invalidations
from backend.core.messaging import MemoryMessaging, RedisMessaging
from tests.reliability.support import TcpProxy, wait_until

REDIS_URL = os.environ.get("TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(REDIS_URL is None, reason="needs TEST_REDIS_URL")


async def test_in_process_delivery_is_immediate_and_always_in_an_epoch() -> None:
    invalidations = Invalidations(MemoryMessaging())
    seen: list[str] = []
    invalidations.add_listener(seen.append)
    before = invalidations.generation
    await invalidations.publish("user:7")
    assert seen == ["user:7"]
    assert invalidations.generation == before + 1
    assert invalidations.epoch == 0


@needs_redis
async def test_a_key_published_on_one_replica_reaches_the_others(redis_prefix: str) -> None:
    assert REDIS_URL is not None
    clients = [redis.from_url(REDIS_URL, decode_responses=True) for _ in range(2)]
    here, there = (
        Invalidations(RedisMessaging.on_client(client, f"{redis_prefix}inv:")) for client in clients
    )
    heard_here: list[str] = []
    heard_there: list[str] = []
    here.add_listener(heard_here.append)
    there.add_listener(heard_there.append)
    assert here.epoch is None  # not trusted before the subscription is confirmed
    try:
        for invalidations in (here, there):
            await invalidations.start()
            await asyncio.wait_for(invalidations.listening.wait(), 5)
        assert here.epoch is not None
        assert there.epoch is not None
        await here.publish("user:42")
        assert heard_here[0] == "user:42"  # delivered here before publish returns

        async def arrived() -> bool:
            return heard_there == ["user:42"]

        await wait_until(arrived, within=5, what="the other replica hears the key")
    finally:
        for invalidations, client in zip((here, there), clients, strict=True):
            await invalidations.stop()
            await client.aclose()
    assert here.epoch is None


@needs_redis
async def test_losing_the_connection_ends_the_epoch_until_a_new_subscription(
    redis_prefix: str,
) -> None:
    assert REDIS_URL is not None
    proxy = await TcpProxy.to(REDIS_URL)
    client = redis.from_url(proxy.url_for(REDIS_URL), decode_responses=True)
    messaging = RedisMessaging.on_client(client, f"{redis_prefix}inv:")
    invalidations = Invalidations(messaging, reconnect_max_seconds=0.2)
    try:
        await invalidations.start()
        await asyncio.wait_for(invalidations.listening.wait(), 5)
        first = invalidations.epoch
        assert first is not None
        generation = invalidations.generation

        await proxy.cut()

        async def ended() -> bool:
            return invalidations.epoch is None

        await wait_until(ended, within=5, what="the epoch ends with the connection")
        assert invalidations.generation > generation
        await proxy.restore()

        async def resumed() -> bool:
            return invalidations.epoch is not None

        await wait_until(resumed, within=5, what="a new epoch after reconnecting")
        assert invalidations.epoch is not None
        assert invalidations.epoch > first
    finally:
        await invalidations.stop()
        await client.aclose()
        await proxy.close()


@needs_redis
async def test_a_redis_that_stops_answering_ends_the_epoch_until_it_answers_again(
    redis_prefix: str,
) -> None:
    assert REDIS_URL is not None
    proxy = await TcpProxy.to(REDIS_URL)
    client = redis.from_url(proxy.url_for(REDIS_URL), decode_responses=True)
    messaging = RedisMessaging.on_client(client, f"{redis_prefix}inv:")
    invalidations = Invalidations(messaging, reconnect_max_seconds=0.2)
    try:
        await invalidations.start()
        await asyncio.wait_for(invalidations.listening.wait(), 5)
        first = invalidations.epoch
        assert first is not None

        proxy.pause()  # the connection stays open; Redis answers nothing (SIGSTOP)

        async def ended() -> bool:
            return invalidations.epoch is None

        await wait_until(ended, within=5, what="the epoch ends while Redis is silent")
        proxy.resume()

        async def resumed() -> bool:
            return invalidations.epoch is not None

        await wait_until(resumed, within=10, what="a new epoch once Redis answers")
        assert invalidations.epoch is not None
        assert invalidations.epoch > first
    finally:
        await invalidations.stop()
        await client.aclose()
        await proxy.close()
