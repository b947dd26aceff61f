"""The messaging port's leases and key-value store: the same contract from memory and Redis."""

from __future__ import annotations

import uuid

from tests.core.messaging.conftest import Pair
from tests.reliability.support import wait_until


async def test_a_lease_has_one_owner_until_released(pair: Pair) -> None:
    here, there = pair
    name = f"contract-{uuid.uuid4().hex[:8]}"
    assert await here.leases.acquire(name, "a", 10) is True
    assert await there.leases.acquire(name, "b", 10) is False
    assert await there.leases.owner_of(name) == "a"
    assert await here.leases.acquire(name, "a", 10) is True  # already ours: extended
    assert await there.leases.renew(name, "b", 10) is False
    assert await here.leases.renew(name, "a", 10) is True
    await there.leases.release(name, "b")  # not b's: nothing happens
    assert await here.leases.owner_of(name) == "a"
    await here.leases.release(name, "a")
    assert await there.leases.owner_of(name) is None
    assert await there.leases.acquire(name, "b", 10) is True
    await there.leases.release(name, "b")


async def test_a_lease_not_renewed_lapses_and_cannot_be_renewed(pair: Pair) -> None:
    here, there = pair
    name = f"contract-{uuid.uuid4().hex[:8]}"
    assert await here.leases.acquire(name, "a", 0.1) is True

    async def lapsed() -> bool:
        return await there.leases.owner_of(name) is None

    await wait_until(lapsed, within=5, what="the lease lapses")
    assert await here.leases.renew(name, "a", 10) is False
    assert await there.leases.acquire(name, "b", 10) is True
    await there.leases.release(name, "b")


async def test_the_key_value_store_is_shared_with_expiry_and_counters(pair: Pair) -> None:
    here, there = pair
    key = f"contract-{uuid.uuid4().hex[:8]}"
    assert await here.cache.set(key, {"price": "3400.2"}, ttl=30) is True
    assert await there.cache.get(key) == {"price": "3400.2"}
    remaining = await there.cache.ttl(key)
    assert remaining is not None
    assert 0 < remaining <= 30
    assert await there.cache.delete(key) is True
    assert await here.cache.get(key) is None
    assert await here.cache.incr(f"{key}:n", ttl=30) == 1
    assert await there.cache.incr(f"{key}:n", ttl=30, amount=2) == 3
    assert await here.cache.set_if_absent(key, 1, ttl=30) is True
    assert await there.cache.set_if_absent(key, 2, ttl=30) is False
    assert await here.cache.get(key) == 1
    await here.cache.delete(key)
    await here.cache.delete(f"{key}:n")
