"""Redis gone: publishing and leases raise MessagingUnavailableError, the cache misses.

Security checks built on the cache (revocations, rate limits) read a miss as "not proven",
and fail closed: their own tests (tests/core/security, tests/reliability) hold them to it.
"""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as redis

from backend.core.messaging import MessagingUnavailableError, RedisMessaging


@pytest.fixture
async def nowhere(unused_tcp_port: int) -> RedisMessaging:
    client = redis.Redis.from_url(
        f"redis://127.0.0.1:{unused_tcp_port}/0",
        socket_connect_timeout=0.2,
        decode_responses=True,
    )
    return RedisMessaging.on_client(client, "nowhere:")


async def test_publishing_raises_and_the_cache_misses(nowhere: RedisMessaging) -> None:
    try:
        with pytest.raises(MessagingUnavailableError):
            await nowhere.publish("news", "hello")
        with pytest.raises(MessagingUnavailableError):
            await nowhere.publish_many([("news", "hello")])
        assert await nowhere.cache.get("key") is None
        assert await nowhere.cache.set("key", 1, ttl=1) is False
        assert await nowhere.cache.incr("key", ttl=1) is None
    finally:
        await nowhere.close()


async def test_leases_raise_rather_than_claim(nowhere: RedisMessaging) -> None:
    try:
        with pytest.raises(MessagingUnavailableError):
            await nowhere.leases.acquire("lease", "a", 1)
        with pytest.raises(MessagingUnavailableError):
            await nowhere.leases.renew("lease", "a", 1)
        with pytest.raises(MessagingUnavailableError):
            await nowhere.leases.owner_of("lease")
    finally:
        await nowhere.close()


async def test_a_subscription_reports_the_failure_and_keeps_trying(
    nowhere: RedisMessaging,
) -> None:
    failures: asyncio.Queue[BaseException] = asyncio.Queue()
    subscription = nowhere.subscribe(
        ["news"], print, name="contract", on_error=failures.put_nowait, reconnect_max_seconds=0.1
    )
    await subscription.start()
    try:
        for _ in range(2):  # a first failure, and a retry that fails again
            failure = await asyncio.wait_for(failures.get(), 5)
            assert isinstance(failure, MessagingUnavailableError)
        assert not subscription.listening.is_set()
    finally:
        await subscription.stop()
        await nowhere.close()
