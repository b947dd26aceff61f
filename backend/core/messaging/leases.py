"""Ownership leases: one owner holds a name until it stops renewing, then another may take it."""

from __future__ import annotations

import time

import redis.asyncio as redis
from redis.exceptions import RedisError

from backend.core.messaging.port import MessagingUnavailableError

# Renew and release only while still the owner, atomically (a plain GET + PEXPIRE could
# extend a lease that expired and was taken by another replica in between).
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def _millis(ttl: float) -> int:
    return max(1, int(ttl * 1000))


class MemoryLeaseStore:
    """In-process leases: the embedded default."""

    def __init__(self) -> None:
        self._leases: dict[str, tuple[str, float]] = {}

    def _holder(self, name: str) -> str | None:
        lease = self._leases.get(name)
        if lease is None:
            return None
        if lease[1] <= time.monotonic():
            del self._leases[name]
            return None
        return lease[0]

    async def acquire(self, name: str, owner: str, ttl: float) -> bool:
        """Take or extend."""
        holder = self._holder(name)
        if holder is not None and holder != owner:
            return False
        self._leases[name] = (owner, time.monotonic() + ttl)
        return True

    async def renew(self, name: str, owner: str, ttl: float) -> bool:
        """Extend if still ours."""
        if self._holder(name) != owner:
            return False
        self._leases[name] = (owner, time.monotonic() + ttl)
        return True

    async def release(self, name: str, owner: str) -> None:
        """Drop if ours."""
        if self._holder(name) == owner:
            del self._leases[name]

    async def owner_of(self, name: str) -> str | None:
        """The live holder."""
        return self._holder(name)


class RedisLeaseStore:
    """Leases shared by every replica: a key holding the owner id, with a millisecond expiry."""

    def __init__(self, client: redis.Redis, prefix: str = "") -> None:
        self._client = client
        self._prefix = prefix
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def _key(self, name: str) -> str:
        return f"{self._prefix}lease:{name}"

    async def acquire(self, name: str, owner: str, ttl: float) -> bool:
        """SET NX PX, or a compare-and-renew when we already hold it."""
        try:
            if await self._client.set(self._key(name), owner, px=_millis(ttl), nx=True):
                return True
        except (RedisError, OSError) as exc:
            raise MessagingUnavailableError(f"lease {name}: {exc!r}") from exc
        return await self.renew(name, owner, ttl)

    async def renew(self, name: str, owner: str, ttl: float) -> bool:
        """Compare-and-PEXPIRE in one Lua call."""
        try:
            renewed = await self._renew(keys=[self._key(name)], args=[owner, _millis(ttl)])
        except (RedisError, OSError) as exc:
            raise MessagingUnavailableError(f"lease {name}: {exc!r}") from exc
        return bool(renewed)

    async def release(self, name: str, owner: str) -> None:
        """Compare-and-DEL in one Lua call."""
        try:
            await self._release(keys=[self._key(name)], args=[owner])
        except (RedisError, OSError) as exc:
            raise MessagingUnavailableError(f"lease {name}: {exc!r}") from exc

    async def owner_of(self, name: str) -> str | None:
        """GET the owner id."""
        try:
            owner = await self._client.get(self._key(name))
        except (RedisError, OSError) as exc:
            raise MessagingUnavailableError(f"lease {name}: {exc!r}") from exc
        if owner is None:
            return None
        return owner.decode() if isinstance(owner, bytes) else str(owner)
