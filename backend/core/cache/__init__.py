"""Cache: the protocol, Redis and in-memory implementations, cache_result."""

from backend.core.cache.decorators import cache_key, cache_result
from backend.core.cache.factory import create_cache
from backend.core.cache.memory import MemoryCache
from backend.core.cache.protocol import Cache
from backend.core.cache.redis_service import RedisCacheService

__all__ = [
    "Cache",
    "MemoryCache",
    "RedisCacheService",
    "cache_key",
    "cache_result",
    "create_cache",
]
