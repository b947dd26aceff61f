"""BarPages: answers of GET /market/bars kept per replica while the bars they show cannot change.

A page that ends more than RECENT ago shows finished bars; they change only when an import
replaces them or a recording of old ticks (a replay) writes into them. Those writes move the
symbol's generation, a random token in the shared cache (Redis with replicas), and pages are
kept under the generation they were read at, so a write on any replica retires them at once;
a token missing (never set, expired, the cache cleared or unreachable) is replaced by a new
one, which retires them as well. Kept at most TTL seconds and MAX_BYTES in all, oldest out
first. Pages with recent bars, and pages without `end`, are read every time.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from datetime import UTC, datetime, timedelta

from backend.core.cache.protocol import Cache
from backend.services.market.paging import BarRequest
from backend.services.market.reading import BarReader

RECENT = timedelta(minutes=10)
TTL_SECONDS = 300.0
GENERATION_TTL = 7 * 86400.0
MAX_BYTES = 64 << 20


def generation_key(symbol: str) -> str:
    """The cache key of a symbol's bar generation."""
    return f"market:bars:generation:{symbol}"


class BarPages:
    """page_json, kept when the page cannot change (see the module docstring)."""

    def __init__(self, reader: BarReader, cache: Cache) -> None:
        self.reader = reader
        self.cache = cache
        self._pages: OrderedDict[tuple[object, ...], tuple[float, bytes]] = OrderedDict()
        self._bytes = 0

    async def page_json(self, request: BarRequest, *, now: datetime | None = None) -> bytes:
        """The API's JSON body for `request`."""
        moment = now or datetime.now(UTC)
        if request.start is None or request.end is None or request.end > moment - RECENT:
            return await self.reader.page_json(request)
        generation = await self._generation(request.symbol)
        if generation is None:
            return await self.reader.page_json(request)
        key = (generation, request)
        stamp = moment.timestamp()
        kept = self._pages.get(key)
        if kept is not None and kept[0] > stamp:
            self._pages.move_to_end(key)
            return kept[1]
        body = await self.reader.page_json(request)
        self._keep(key, stamp + TTL_SECONDS, body)
        return body

    async def changed(self, symbols: set[str]) -> None:
        """Bars of `symbols` were written: retire their pages on every replica."""
        for symbol in symbols:
            await self.cache.set(generation_key(symbol), uuid.uuid4().hex, ttl=GENERATION_TTL)

    async def _generation(self, symbol: str) -> str | None:
        key = generation_key(symbol)
        current = await self.cache.get(key)
        if current is None:
            await self.cache.set_if_absent(key, uuid.uuid4().hex, ttl=GENERATION_TTL)
            current = await self.cache.get(key)
        return current if isinstance(current, str) else None

    def _keep(self, key: tuple[object, ...], expires: float, body: bytes) -> None:
        old = self._pages.pop(key, None)
        if old is not None:
            self._bytes -= len(old[1])
        self._pages[key] = (expires, body)
        self._bytes += len(body)
        while self._bytes > MAX_BYTES and self._pages:
            _, (_, dropped) = self._pages.popitem(last=False)
            self._bytes -= len(dropped)
