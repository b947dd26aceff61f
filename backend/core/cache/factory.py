"""Pick the cache backend from configuration."""

from __future__ import annotations

from backend.core.cache.memory import MemoryCache
from backend.core.cache.protocol import Cache
from backend.core.cache.redis_service import RedisCacheService
from backend.core.config.settings import RedisConfig


def create_cache(config: RedisConfig) -> Cache:
    """Redis when a URL is configured, otherwise the in-memory stand-in."""
    if config.url:
        return RedisCacheService(config)
    return MemoryCache()
