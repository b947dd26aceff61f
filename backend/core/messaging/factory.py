"""Pick the messaging implementation once, at start-up, from configuration."""

from __future__ import annotations

from backend.core.cache.redis_service import RedisCacheService
from backend.core.config.settings import RedisConfig
from backend.core.messaging.memory import MemoryMessaging
from backend.core.messaging.port import Messaging
from backend.core.messaging.redis_broker import RedisMessaging


def create_messaging(config: RedisConfig) -> Messaging:
    """Redis when a URL is configured, otherwise one process in memory."""
    if config.url:
        return RedisMessaging(RedisCacheService(config))
    return MemoryMessaging()
