"""MemoryCache: a bounded, TTL-aware in-process stand-in for Redis."""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from backend.core.monitoring.metrics import CACHE_REQUESTS


class MemoryCache:
    """LRU dictionary with per-key expiry; values are JSON round-tripped like Redis."""

    backend = "memory"

    def __init__(self, max_entries: int = 100_000) -> None:
        self._entries: OrderedDict[str, tuple[float | None, str]] = OrderedDict()
        self._max_entries = max_entries

    def _live(self, key: str) -> str | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, raw = entry
        if expires_at is not None and expires_at <= time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return raw

    def _store(self, key: str, raw: str, ttl: float | None) -> None:
        expires_at = time.monotonic() + ttl if ttl is not None else None
        self._entries[key] = (expires_at, raw)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def get(self, key: str) -> Any | None:
        """The value, or None."""
        raw = self._live(key)
        CACHE_REQUESTS.labels(backend=self.backend, result="miss" if raw is None else "hit").inc()
        return None if raw is None else json.loads(raw)

    async def set(self, key: str, value: Any, ttl: float | None = None) -> bool:
        """Store a JSON value."""
        self._store(key, json.dumps(value), ttl)
        return True

    async def set_many(self, entries: Mapping[str, tuple[Any, float | None]]) -> bool:
        """Store every entry."""
        for key, (value, ttl) in entries.items():
            self._store(key, json.dumps(value), ttl)
        return True

    async def set_if_absent(self, key: str, value: Any, ttl: float) -> bool | None:
        """Store only when missing."""
        if self._live(key) is not None:
            return False
        self._store(key, json.dumps(value), ttl)
        return True

    async def delete(self, key: str) -> bool:
        """Remove a key."""
        return self._entries.pop(key, None) is not None

    async def get_many(self, *keys: str) -> list[Any | None]:
        """Each value, or None."""
        return [await self.get(key) for key in keys]

    async def exists(self, *keys: str) -> bool:
        """True if any is live."""
        return any(self._live(key) is not None for key in keys)

    async def incr(self, key: str, ttl: float, amount: int = 1) -> int | None:
        """Count within a fixed window that starts at the first increment."""
        raw = self._live(key)
        if raw is None:
            self._store(key, str(amount), ttl)
            return amount
        expires_at = self._entries[key][0]
        count = int(json.loads(raw)) + amount
        self._entries[key] = (expires_at, str(count))
        return count

    async def ttl(self, key: str) -> float | None:
        """Seconds left."""
        if self._live(key) is None:
            return None
        expires_at = self._entries[key][0]
        return None if expires_at is None else max(expires_at - time.monotonic(), 0.0)

    async def ping(self) -> float:
        """Always reachable."""
        return 0.0

    async def clear(self) -> None:
        """Forget everything."""
        self._entries.clear()

    async def close(self) -> None:
        """Nothing to release."""
