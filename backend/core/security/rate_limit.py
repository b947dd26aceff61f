"""Fixed-window rate limits counted in the shared cache, so every replica sees one count."""

from __future__ import annotations

import hashlib
import math

import structlog

from backend.core.cache.memory import MemoryCache
from backend.core.cache.protocol import Cache
from backend.core.errors import RateLimitedError

logger = structlog.get_logger(__name__)


class RateLimiter:
    """At most `limit` hits per key in a `window`-second window, then 429 until it ends.

    When the shared cache cannot be reached, counting falls back to this process's memory:
    limits loosen to per-replica instead of disappearing.
    """

    def __init__(self, cache: Cache, *, name: str, limit: int, window: float) -> None:
        self._cache = cache
        self._fallback = MemoryCache(max_entries=50_000)
        self.name = name
        self.limit = limit
        self.window = window

    def key(self, *parts: str) -> str:
        """The cache key of one subject; user input is digested to bound the key's size."""
        digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:40]
        return f"ratelimit:{self.name}:{digest}"

    async def hit(self, *parts: str) -> None:
        """Count one attempt; raise RateLimitedError once over the limit."""
        key = self.key(*parts)
        cache: Cache = self._cache
        count = await cache.incr(key, self.window)
        if count is None:
            cache = self._fallback
            count = await cache.incr(key, self.window)
        if count is not None and count > self.limit:
            remaining = await cache.ttl(key)
            retry_after = math.ceil(remaining) if remaining else math.ceil(self.window)
            logger.info("rate_limited", limiter=self.name, retry_after=retry_after)
            raise RateLimitedError(
                f"too many attempts; retry in {retry_after} s", retry_after=retry_after
            )

    async def check(self, *parts: str) -> None:
        """Raise RateLimitedError if the subject already used its `limit` (counts nothing).

        For limits on failures: a subject over the limit is refused even when right.
        """
        key = self.key(*parts)
        for cache in (self._cache, self._fallback):
            count = await cache.get(key)
            if isinstance(count, int) and count >= self.limit:
                remaining = await cache.ttl(key)
                retry_after = math.ceil(remaining) if remaining else math.ceil(self.window)
                logger.info("rate_limited", limiter=self.name, retry_after=retry_after)
                raise RateLimitedError(
                    f"too many attempts; retry in {retry_after} s", retry_after=retry_after
                )

    async def reset(self, *parts: str) -> None:
        """Forget the count of one subject (after a successful login)."""
        key = self.key(*parts)
        await self._cache.delete(key)
        await self._fallback.delete(key)
