"""Cache implementations (memory always, Redis when TEST_REDIS_URL is set) and cache_result."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from prometheus_client import REGISTRY
from redis.exceptions import RedisError

from backend.core.cache import Cache, MemoryCache, RedisCacheService, cache_key, cache_result
from backend.core.config.settings import RedisConfig

BACKENDS = ["memory"] + (["redis"] if os.environ.get("TEST_REDIS_URL") else [])


@pytest.fixture(params=BACKENDS)
async def cache(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[Cache]:
    if request.param == "memory":
        yield MemoryCache(max_entries=100)
        return
    config = RedisConfig(
        url=os.environ["TEST_REDIS_URL"], key_prefix=f"{redis_prefix}{uuid.uuid4().hex[:6]}:"
    )
    service = RedisCacheService(config)
    yield service
    await service.clear()
    await service.close()


async def test_values_round_trip_as_json(cache: Cache) -> None:
    value = {"symbol": "IF2412.CFFEX", "levels": [1, 2.5, None], "ok": True}
    assert await cache.set("k", value, ttl=60)
    assert await cache.get("k") == value
    assert await cache.exists("k")
    assert await cache.delete("k")
    assert await cache.get("k") is None
    assert not await cache.exists("k")


async def test_non_json_values_are_refused_not_pickled(cache: Cache) -> None:
    with pytest.raises(TypeError):
        await cache.set("k", Decimal("1.5"))


async def test_ttl_expires_keys(cache: Cache) -> None:
    await cache.set("short", 1, ttl=0.01)
    await cache.set("long", 2, ttl=60)
    remaining = await cache.ttl("long")
    assert remaining is not None
    assert 59 < remaining <= 60
    deadline = time.monotonic() + 2
    while await cache.get("short") is not None:
        assert time.monotonic() < deadline, "a 10 ms key was still live after 2 s"
        await asyncio.sleep(0.005)
    assert await cache.get("long") == 2


async def test_incr_counts_within_a_window(cache: Cache) -> None:
    assert [await cache.incr("hits", ttl=60) for _ in range(3)] == [1, 2, 3]
    remaining = await cache.ttl("hits")
    assert remaining is not None
    assert remaining <= 60


async def test_incr_adds_an_amount(cache: Cache) -> None:
    assert await cache.incr("orders", ttl=60, amount=5) == 5
    assert await cache.incr("orders", ttl=60, amount=3) == 8


async def test_get_many_answers_each_key_in_order(cache: Cache) -> None:
    await cache.set("a", {"n": 1}, ttl=60)
    await cache.set("c", [3], ttl=60)
    assert await cache.get_many("a", "b", "c") == [{"n": 1}, None, [3]]


@pytest.mark.skipif("redis" not in BACKENDS, reason="needs TEST_REDIS_URL")
async def test_concurrent_redis_lookups_share_one_mget(redis_prefix: str) -> None:
    service = RedisCacheService(
        RedisConfig(url=os.environ["TEST_REDIS_URL"], key_prefix=f"{redis_prefix}mget:")
    )
    mgets: list[int] = []
    real_mget = service.client.mget

    async def counted_mget(keys: list[str]) -> list[str | None]:
        mgets.append(len(keys))
        return await real_mget(keys)

    service.client.mget = counted_mget  # type: ignore[method-assign]
    try:
        for index in range(20):
            await service.set(f"user:{index}", {"id": index}, ttl=60)
        answers = await asyncio.gather(
            *(service.get_many(f"user:{index}", f"absent:{index}") for index in range(20))
        )
        assert answers == [[{"id": index}, None] for index in range(20)]
        assert mgets == [40]  # twenty callers, one round trip
    finally:
        await service.clear()
        await service.close()


async def test_set_if_absent_is_first_writer_wins(cache: Cache) -> None:
    assert await cache.set_if_absent("lease", "replica-a", ttl=10) is True
    assert await cache.set_if_absent("lease", "replica-b", ttl=10) is False
    assert await cache.get("lease") == "replica-a"


async def test_clear_drops_only_this_namespace(cache: Cache) -> None:
    await cache.set("a", 1)
    await cache.clear()
    assert await cache.get("a") is None


def test_memory_cache_is_bounded() -> None:
    async def fill() -> MemoryCache:
        memory = MemoryCache(max_entries=3)
        for index in range(5):
            await memory.set(f"k{index}", index)
        return memory

    memory = asyncio.run(fill())
    assert asyncio.run(memory.get("k0")) is None
    assert asyncio.run(memory.get("k4")) == 4


async def test_unreachable_redis_degrades_to_misses_and_counts_errors(
    unused_tcp_port: int,
) -> None:
    service = RedisCacheService(RedisConfig(url=f"redis://127.0.0.1:{unused_tcp_port}/0"))

    def errors(operation: str) -> float:
        value = REGISTRY.get_sample_value("redfire_cache_errors_total", {"operation": operation})
        return value or 0.0

    before = errors("get"), errors("set"), errors("incr")
    assert await service.get("k") is None
    assert await service.set("k", 1) is False
    assert await service.incr("k", ttl=1) is None
    assert await service.set_if_absent("k", 1, ttl=1) is None
    assert not await service.exists("k")
    assert await asyncio.gather(service.get_many("a", "b"), service.get_many("c")) == [
        [None, None],
        [None],
    ]
    with pytest.raises((RedisError, OSError)):
        await service.ping()
    assert (errors("get"), errors("set"), errors("incr")) == tuple(v + 1 for v in before)
    await service.close()


async def test_cache_result_memoises_under_a_stable_key() -> None:
    memory = MemoryCache()
    calls: list[str] = []

    @cache_result(memory, expire=60, key_prefix="quotes")
    async def last_price(symbol: str) -> str:
        calls.append(symbol)
        return f"{symbol}:3500.2"

    assert await last_price("IF2412.CFFEX") == "IF2412.CFFEX:3500.2"
    assert await last_price("IF2412.CFFEX") == "IF2412.CFFEX:3500.2"
    assert await last_price("rb2501.SHFE") == "rb2501.SHFE:3500.2"
    assert calls == ["IF2412.CFFEX", "rb2501.SHFE"]


def test_cache_key_is_identical_across_processes() -> None:
    script = (
        "from backend.core.cache import cache_key\n"
        "def f(): pass\n"
        "print(cache_key('p', f, ('IF2412.CFFEX', 3), {'depth': 5}))\n"
    )
    keys = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2", "3")
    }
    assert len(keys) == 1
    [key] = keys
    assert key.startswith("p:f:")

    def f() -> None:
        pass

    local = cache_key("p", f, ("IF2412.CFFEX", 3), {"depth": 5})
    assert local.rsplit(":", 1)[1] == key.rsplit(":", 1)[1]
