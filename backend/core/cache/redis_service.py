"""RedisCacheService: JSON values in Redis; errors are logged and counted, never raised."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import redis.asyncio as redis
import structlog
from redis.exceptions import RedisError

from backend.core.cache.coalescing import MGetCoalescer
from backend.core.config.settings import RedisConfig
from backend.core.monitoring.metrics import CACHE_ERRORS, CACHE_REQUESTS

logger = structlog.get_logger(__name__)


class RedisCacheService:
    """The production Cache. Values are JSON, never pickle: Redis content is not trusted code."""

    backend = "redis"

    def __init__(self, config: RedisConfig, client: redis.Redis | None = None) -> None:
        assert config.url is not None
        self.prefix = config.key_prefix
        self.client: redis.Redis = client or redis.from_url(
            config.url,
            socket_timeout=config.socket_timeout,
            socket_connect_timeout=config.socket_timeout,
            max_connections=config.max_connections,
            health_check_interval=30,
            decode_responses=True,
        )
        self._health_timeout = config.health_timeout
        self._mget = MGetCoalescer(self.client)

    def key(self, key: str) -> str:
        """The namespaced Redis key."""
        return self.prefix + key

    def _failed(self, operation: str, exc: Exception) -> None:
        CACHE_ERRORS.labels(operation=operation).inc()
        logger.warning("cache_error", operation=operation, error=type(exc).__name__)

    async def get(self, key: str) -> Any | None:
        """The value, or None."""
        try:
            raw = await self.client.get(self.key(key))
        except (RedisError, OSError) as exc:
            self._failed("get", exc)
            return None
        CACHE_REQUESTS.labels(backend=self.backend, result="miss" if raw is None else "hit").inc()
        return None if raw is None else json.loads(raw)

    async def set(self, key: str, value: Any, ttl: float | None = None) -> bool:
        """Store a JSON value."""
        try:
            px = int(ttl * 1000) if ttl is not None else None
            await self.client.set(self.key(key), json.dumps(value), px=px)
        except (RedisError, OSError) as exc:
            self._failed("set", exc)
            return False
        return True

    async def set_many(self, entries: Mapping[str, tuple[Any, float | None]]) -> bool:
        """Every SET in one MULTI/EXEC: Redis applies all of them or, gone meanwhile, none."""
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                for key, (value, ttl) in entries.items():
                    px = int(ttl * 1000) if ttl is not None else None
                    pipe.set(self.key(key), json.dumps(value), px=px)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            self._failed("set_many", exc)
            return False
        return True

    async def set_if_absent(self, key: str, value: Any, ttl: float) -> bool | None:
        """SET NX with expiry."""
        try:
            stored = await self.client.set(
                self.key(key), json.dumps(value), px=int(ttl * 1000), nx=True
            )
        except (RedisError, OSError) as exc:
            self._failed("set_if_absent", exc)
            return None
        return bool(stored)

    async def delete(self, key: str) -> bool:
        """Remove a key."""
        try:
            return int(await self.client.delete(self.key(key))) > 0
        except (RedisError, OSError) as exc:
            self._failed("delete", exc)
            return False

    async def get_many(self, *keys: str) -> list[Any | None]:
        """One MGET, shared with the other lookups of this loop iteration."""
        try:
            raws = await self._mget.mget([self.key(key) for key in keys])
        except (RedisError, OSError) as exc:
            self._failed("get_many", exc)
            return [None] * len(keys)
        return [None if raw is None else json.loads(raw) for raw in raws]

    async def exists(self, *keys: str) -> bool:
        """True if any is live (one EXISTS for all of them)."""
        try:
            return int(await self.client.exists(*(self.key(key) for key in keys))) > 0
        except (RedisError, OSError) as exc:
            self._failed("exists", exc)
            return False

    async def incr(self, key: str, ttl: float, amount: int = 1) -> int | None:
        """INCRBY, starting a `ttl` window on the first increment (atomic in a pipeline)."""
        full_key = self.key(key)
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.incrby(full_key, amount)
                pipe.pexpire(full_key, int(ttl * 1000), nx=True)
                count, _ = await pipe.execute()
        except (RedisError, OSError) as exc:
            self._failed("incr", exc)
            return None
        return int(count)

    async def ttl(self, key: str) -> float | None:
        """Seconds left."""
        try:
            millis = int(await self.client.pttl(self.key(key)))
        except (RedisError, OSError) as exc:
            self._failed("ttl", exc)
            return None
        return millis / 1000 if millis >= 0 else None

    async def ping(self) -> float:
        """PING latency; raises when Redis is unreachable."""
        started = time.perf_counter()
        await self.client.ping()
        return time.perf_counter() - started

    async def clear(self) -> None:
        """Delete every key under this prefix."""
        try:
            async for batch_key in self.client.scan_iter(match=self.prefix + "*", count=500):
                await self.client.delete(batch_key)
        except (RedisError, OSError) as exc:
            self._failed("clear", exc)

    async def close(self) -> None:
        """Close the connection pool."""
        await self.client.aclose()
