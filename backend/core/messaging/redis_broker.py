"""RedisMessaging: channels, leases and the cache on one Redis, under the key prefix."""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as redis
from redis.exceptions import RedisError

from backend.core.cache.redis_service import RedisCacheService
from backend.core.config.settings import RedisConfig
from backend.core.messaging.leases import RedisLeaseStore
from backend.core.messaging.port import (
    ErrorNotice,
    MessageHandler,
    MessagingUnavailableError,
    Notice,
    ignore_error,
    nothing,
)
from backend.core.messaging.subscription import RedisSubscription


class RedisMessaging:
    """Every replica on one Redis: channels are pub/sub channels, leases and cache are keys."""

    backend = "redis"
    shared = True

    def __init__(self, cache: RedisCacheService) -> None:
        self._cache = cache
        self.client = cache.client
        self.prefix = cache.prefix
        self._leases = RedisLeaseStore(self.client, self.prefix)

    @classmethod
    def on_client(cls, client: redis.Redis, prefix: str) -> RedisMessaging:
        """Messaging over an existing client (tests: several replicas in one process)."""
        config = RedisConfig(url="redis://", key_prefix=prefix)  # the client is already made
        return cls(RedisCacheService(config, client=client))

    @property
    def cache(self) -> RedisCacheService:
        """JSON values in Redis."""
        return self._cache

    @property
    def leases(self) -> RedisLeaseStore:
        """Leases as Redis keys."""
        return self._leases

    def channel(self, name: str) -> str:
        """The Redis channel of `name`."""
        return self.prefix + name

    async def publish(self, channel: str, message: str) -> int:
        """PUBLISH; the number of subscriptions that heard it (this process's own included)."""
        try:
            return int(await self.client.publish(self.channel(channel), message))
        except (RedisError, OSError) as exc:
            raise MessagingUnavailableError(repr(exc)) from exc

    async def publish_many(self, messages: Sequence[tuple[str, str]]) -> None:
        """Every PUBLISH in one pipeline (not a transaction), in order."""
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for channel, message in messages:
                    pipe.publish(self.channel(channel), message)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise MessagingUnavailableError(repr(exc)) from exc

    def subscribe(
        self,
        channels: Sequence[str],
        on_message: MessageHandler,
        *,
        name: str,
        on_subscribed: Notice = nothing,
        on_lost: Notice = nothing,
        on_error: ErrorNotice = ignore_error,
        reconnect_max_seconds: float = 5.0,
    ) -> RedisSubscription:
        """A subscription kept alive across connection losses once started."""
        return RedisSubscription(
            self.client,
            [self.channel(channel) for channel in channels],
            on_message,
            name=name,
            on_subscribed=on_subscribed,
            on_lost=on_lost,
            on_error=on_error,
            reconnect_max_seconds=reconnect_max_seconds,
        )

    async def close(self) -> None:
        """Close the connection pool."""
        await self._cache.close()
