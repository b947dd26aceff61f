"""The cancel relay: a cancel for another replica's order reaches that replica, once."""

from __future__ import annotations

import asyncio
import os

import pytest
import redis.asyncio as redis

from backend.core.messaging import MemoryMessaging, RedisMessaging
from backend.core.monitoring.metrics import CANCELS_RELAYED
from backend.services.orders.cancel_relay import Cancel, CancelRelay, cancel_channel

REDIS_URL = os.environ.get("TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(REDIS_URL is None, reason="needs TEST_REDIS_URL")


def relayed(outcome: str) -> float:
    return CANCELS_RELAYED.labels(outcome=outcome)._value.get()


async def _never(vt_orderid: str) -> None:
    raise AssertionError("nothing to cancel here")


async def test_one_process_has_nobody_to_relay_to() -> None:
    before = relayed("unheard")
    relay = CancelRelay(MemoryMessaging(), replica="replica-a", cancel=_never)
    assert await relay.forward("replica-b", 7, "PAPER.1") is False
    assert relayed("unheard") == before + 1


@needs_redis
async def test_the_owner_hears_the_cancels_of_its_orders_and_no_one_else(
    redis_prefix: str,
) -> None:
    assert REDIS_URL is not None
    clients = [redis.from_url(REDIS_URL, decode_responses=True) for _ in range(3)]
    heard: dict[str, asyncio.Queue[str]] = {name: asyncio.Queue() for name in ("a", "b")}

    def cancel_on(name: str) -> Cancel:
        async def cancel(vt_orderid: str) -> None:
            heard[name].put_nowait(vt_orderid)

        return cancel

    brokers = [RedisMessaging.on_client(client, redis_prefix) for client in clients]
    owner = CancelRelay(brokers[0], replica="a", cancel=cancel_on("a"))
    bystander = CancelRelay(brokers[1], replica="b", cancel=cancel_on("b"))
    sender = CancelRelay(brokers[2], replica="c", cancel=cancel_on("b"))
    try:
        for relay in (owner, bystander):
            await relay.start()
            await asyncio.wait_for(relay.listening.wait(), 5)
        delivered = relayed("delivered")
        assert await sender.forward("a", 42, "PAPER.42") is True
        assert await asyncio.wait_for(heard["a"].get(), 5) == "PAPER.42"
        assert relayed("delivered") == delivered + 1
        unheard = relayed("unheard")
        assert await sender.forward("gone", 43, "PAPER.43") is False
        assert relayed("unheard") == unheard + 1
        # A malformed message is logged and dropped; the listener keeps going.
        await clients[2].publish(redis_prefix + cancel_channel("a"), "not json")
        assert await sender.forward("a", 44, "PAPER.44") is True
        assert await asyncio.wait_for(heard["a"].get(), 5) == "PAPER.44"
        assert heard["b"].empty()
    finally:
        for relay in (owner, bystander):
            await relay.stop()
        for client in clients:
            await client.aclose()
