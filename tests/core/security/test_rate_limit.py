"""RateLimiter over the Cache protocol, with an in-process fallback."""

from __future__ import annotations

import pytest

from backend.core.cache.memory import MemoryCache
from backend.core.errors import RateLimitedError
from backend.core.security.rate_limit import RateLimiter


class UnreachableCache(MemoryCache):
    """A cache whose counters always fail, like Redis when it is down."""

    async def incr(self, key: str, ttl: float) -> int | None:
        return None

    async def ttl(self, key: str) -> float | None:
        return None

    async def delete(self, key: str) -> bool:
        return False


async def test_limit_then_429_with_retry_after_then_reset() -> None:
    limiter = RateLimiter(MemoryCache(), name="login", limit=3, window=30)
    for _ in range(3):
        await limiter.hit("alice", "10.0.0.1")
    with pytest.raises(RateLimitedError) as caught:
        await limiter.hit("alice", "10.0.0.1")
    assert caught.value.status_code == 429
    assert 29 <= caught.value.retry_after <= 30
    assert caught.value.headers == {"Retry-After": str(caught.value.retry_after)}
    await limiter.hit("alice", "10.0.0.2")  # another subject has its own count
    await limiter.reset("alice", "10.0.0.1")
    await limiter.hit("alice", "10.0.0.1")


async def test_window_expiry_restores_access() -> None:
    cache = MemoryCache()
    limiter = RateLimiter(cache, name="login", limit=1, window=30)
    await limiter.hit("bob")
    with pytest.raises(RateLimitedError):
        await limiter.hit("bob")
    # End the window without waiting for it: move the stored deadline into the past.
    key = limiter.key("bob")
    expires_at, raw = cache._entries[key]
    assert expires_at is not None
    cache._entries[key] = (expires_at - 31, raw)
    await limiter.hit("bob")


async def test_falls_back_to_memory_when_the_cache_is_unreachable() -> None:
    limiter = RateLimiter(UnreachableCache(), name="register", limit=2, window=60)
    await limiter.hit("10.0.0.9")
    await limiter.hit("10.0.0.9")
    with pytest.raises(RateLimitedError) as caught:
        await limiter.hit("10.0.0.9")
    assert caught.value.retry_after >= 59


def test_keys_are_bounded_digests_of_user_input() -> None:
    limiter = RateLimiter(MemoryCache(), name="login", limit=1, window=1)
    huge = "x" * 10_000
    key = limiter.key(huge, "1.2.3.4")
    assert key.startswith("ratelimit:login:")
    assert len(key) < 64
    assert "xxxx" not in key
    assert limiter.key("a", "bc") != limiter.key("ab", "c")
