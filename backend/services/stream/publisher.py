"""StreamPublisher: orders, trades, ticks and strategy events onto the event bus.

Ticks are conflated per symbol: the newest tick of a symbol replaces one not yet published.
With `tick_interval` 0 the publisher runs once per loop iteration, so it only merges ticks
of a symbol that arrived together (one bridge batch); a positive interval publishes each
symbol at most that often. Each published tick is also written, again conflated and in a
task of its own so a slow cache never holds ticks back, as the symbol's latest tick in the
shared cache for every replica.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from pydantic_core import to_jsonable_python

from backend.core.cache.protocol import Cache
from backend.domain.market import DEPTH_FIELDS, TickSnapshot
from backend.schemas.common import jsonable, plain_decimal
from backend.schemas.orders import OrderRead, TradeRead
from backend.services.stream.bus import EventBus, StreamEvent

logger = structlog.get_logger(__name__)


def tick_cache_key(symbol: str) -> str:
    """Cache key of a symbol's latest tick."""
    return f"market:tick:{symbol}"


def tick_payload(tick: TickSnapshot) -> dict[str, Any]:
    """The contract's tick shape: decimals as strings, an ISO timestamp with offset."""
    payload = {
        "symbol": tick.symbol,
        "last_price": plain_decimal(tick.last_price),
        "bid_price_1": plain_decimal(tick.bid_price_1),
        "ask_price_1": plain_decimal(tick.ask_price_1),
        "bid_volume_1": plain_decimal(tick.bid_volume_1),
        "ask_volume_1": plain_decimal(tick.ask_volume_1),
        "volume": plain_decimal(tick.volume),
        "datetime": to_jsonable_python(tick.datetime),  # as the REST answers write it
    }
    depth = tick.depth
    if depth:
        payload.update(zip(DEPTH_FIELDS, map(plain_decimal, depth), strict=True))
    else:
        payload.update(_NO_DEPTH)
    return payload


_NO_DEPTH = dict.fromkeys(DEPTH_FIELDS, "0")


class StreamPublisher:
    """Turns domain events into StreamEvents; the only writer of the latest-tick cache."""

    def __init__(self, bus: EventBus, cache: Cache, *, tick_interval: float = 0.0) -> None:
        self.bus = bus
        self.cache = cache
        self.tick_interval = tick_interval
        self._pending: dict[str, TickSnapshot] = {}
        self._unsaved: dict[str, dict[str, Any]] = {}
        self._wakeup = asyncio.Event()
        self._save = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._tasks: list[asyncio.Task[None]] = []

    async def on_order(self, order: OrderRead) -> None:
        """Order listener: the owner sees the order's new state."""
        data = order.model_dump(mode="json")
        self.bus.publish(StreamEvent("order", order.user_id, order.symbol, data))

    async def on_trade(self, trade: TradeRead, order: OrderRead) -> None:
        """Trade listener: the order's owner sees the fill."""
        data = trade.model_dump(mode="json")
        self.bus.publish(StreamEvent("trade", order.user_id, trade.symbol, data))

    def publish_strategy_event(self, user_id: int, data: dict[str, Any]) -> None:
        """A strategy's owner sees `data` (made JSON-ready: decimals become strings)."""
        payload = jsonable(data)
        symbol = payload.get("symbol") if isinstance(payload.get("symbol"), str) else None
        self.bus.publish(StreamEvent("strategy", user_id, symbol, payload))

    def publish_optimization_event(self, user_id: int, data: dict[str, Any]) -> None:
        """An optimisation's owner sees its progress `data` (JSON-ready)."""
        payload = jsonable(data)
        symbol = payload.get("symbol") if isinstance(payload.get("symbol"), str) else None
        self.bus.publish(StreamEvent("optimization", user_id, symbol, payload))

    async def on_tick(self, tick: TickSnapshot) -> None:
        """Bridge tick subscriber: keep the newest tick per symbol for the publishing task."""
        self._pending[tick.symbol] = tick
        self._idle.clear()
        self._wakeup.set()

    async def start(self) -> None:
        """Start publishing ticks."""
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._publish_ticks(), name="stream-ticks"),
                asyncio.create_task(self._save_ticks(), name="stream-latest-ticks"),
            ]

    async def stop(self) -> None:
        """Stop publishing ticks; unpublished ones are dropped."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._pending.clear()
        self._unsaved.clear()
        self._idle.set()

    async def flush(self) -> None:
        """Wait until every tick received so far is published and saved (or superseded)."""
        await self._idle.wait()

    async def _publish_ticks(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            batch, self._pending = self._pending, {}
            for symbol, tick in batch.items():
                data = tick_payload(tick)
                self.bus.publish(StreamEvent("tick", None, symbol, data))
                self._unsaved[symbol] = data
            self._save.set()
            if self.tick_interval > 0:
                await asyncio.sleep(self.tick_interval)

    async def _save_ticks(self) -> None:
        while True:
            await self._save.wait()
            self._save.clear()
            batch, self._unsaved = self._unsaved, {}
            for symbol, data in batch.items():
                try:
                    await self.cache.set(tick_cache_key(symbol), data)
                except Exception:
                    logger.exception("latest_tick_not_saved", symbol=symbol)
            if not (self._pending or self._unsaved):
                self._idle.set()
