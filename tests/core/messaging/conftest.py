"""Two endpoints on one broker, as two replicas have: memory always, Redis when configured."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis

from backend.core.messaging import MemoryBroker, MemoryMessaging, Messaging, RedisMessaging
from tests.conftest import TEST_REDIS_URL

Pair = tuple[Messaging, Messaging]


@pytest.fixture(params=["memory", "redis"])
async def pair(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[Pair]:
    """Two endpoints sharing a broker; Redis ones under a prefix of their own in this run."""
    if request.param == "memory":
        broker = MemoryBroker()
        yield MemoryMessaging(broker), MemoryMessaging(broker)
        return
    if TEST_REDIS_URL is None:
        pytest.skip("needs TEST_REDIS_URL")
    prefix = f"{redis_prefix}messaging-{uuid.uuid4().hex[:8]}:"
    clients = [redis.from_url(TEST_REDIS_URL, decode_responses=True) for _ in range(2)]
    endpoints = [RedisMessaging.on_client(client, prefix) for client in clients]
    try:
        yield endpoints[0], endpoints[1]
    finally:
        for endpoint in endpoints:
            await endpoint.close()
