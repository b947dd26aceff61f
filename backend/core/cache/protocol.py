"""The Cache protocol that Redis and the in-memory stand-in both satisfy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Cache(Protocol):
    """JSON-valued key/value store with expiry; failures degrade to misses, never raise."""

    backend: str

    async def get(self, key: str) -> Any | None:
        """The value, or None when missing, expired or unreachable."""

    async def set(self, key: str, value: Any, ttl: float | None = None) -> bool:
        """Store `value` (JSON-serialisable) for `ttl` seconds; False if not stored."""

    async def set_if_absent(self, key: str, value: Any, ttl: float) -> bool | None:
        """Store only if the key is missing; None when the backend is unreachable."""

    async def set_many(self, entries: Mapping[str, tuple[Any, float | None]]) -> bool:
        """Store each `key: (value, ttl)` at once (all or none); False if not stored."""

    async def delete(self, key: str) -> bool:
        """Remove the key; True if it existed."""

    async def exists(self, *keys: str) -> bool:
        """True if any of the keys holds a live value (one round trip)."""

    async def get_many(self, *keys: str) -> list[Any | None]:
        """Each key's value or None, in one round trip; all None if unreachable."""

    async def incr(self, key: str, ttl: float, amount: int = 1) -> int | None:
        """Atomically add `amount`; the first one starts a `ttl` window. None if unreachable."""

    async def ttl(self, key: str) -> float | None:
        """Seconds left before the key expires, None if missing or without expiry."""

    async def ping(self) -> float:
        """Round-trip latency in seconds; raises when unreachable."""

    async def clear(self) -> None:
        """Drop every key of this cache's namespace."""

    async def close(self) -> None:
        """Release connections."""
