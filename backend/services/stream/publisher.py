"""StreamPublisher: orders, trades, ticks and strategy events onto the event bus.

Ticks are conflated per symbol: the newest tick of a symbol replaces one not yet published.
With `tick_interval` 0 every tick is published while the publisher keeps up; it only skips
superseded ticks when it falls behind (a burst in one bridge batch, a slow cache). Each
published tick is also the symbol's latest tick in the shared cache, for every replica.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from pydantic_core import to_jsonable_python

from backend.core.cache.protocol import Cache
from backend.schemas.orders import OrderRead, TradeRead
from backend.services.stream.bus import EventBus, StreamEvent
from backend.services.vnpy.types import TickSnapshot

logger = structlog.get_logger(__name__)


def tick_cache_key(symbol: str) -> str:
    """Cache key of a symbol's latest tick."""
    return f"market:tick:{symbol}"


def tick_payload(tick: TickSnapshot) -> dict[str, Any]:
    """The contract's tick shape: decimals as strings, an ISO timestamp with offset."""
    return {
        "symbol": tick.symbol,
        "last_price": str(tick.last_price),
        "bid_price_1": str(tick.bid_price_1),
        "ask_price_1": str(tick.ask_price_1),
        "bid_volume_1": str(tick.bid_volume_1),
        "ask_volume_1": str(tick.ask_volume_1),
        "volume": str(tick.volume),
        "datetime": to_jsonable_python(tick.datetime),  # as the REST answers write it
    }


class StreamPublisher:
    """Turns domain events into StreamEvents; the only writer of the latest-tick cache."""

    def __init__(self, bus: EventBus, cache: Cache, *, tick_interval: float = 0.0) -> None:
        self.bus = bus
        self.cache = cache
        self.tick_interval = tick_interval
        self._pending: dict[str, TickSnapshot] = {}
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None

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
        payload = to_jsonable_python(data)
        symbol = payload.get("symbol") if isinstance(payload.get("symbol"), str) else None
        self.bus.publish(StreamEvent("strategy", user_id, symbol, payload))

    async def on_tick(self, tick: TickSnapshot) -> None:
        """Bridge tick subscriber: keep the newest tick per symbol for the publishing task."""
        self._pending[tick.symbol] = tick
        self._idle.clear()
        self._wakeup.set()

    async def start(self) -> None:
        """Start publishing ticks."""
        if self._task is None:
            self._task = asyncio.create_task(self._publish_ticks(), name="stream-ticks")

    async def stop(self) -> None:
        """Stop publishing ticks; unpublished ones are dropped."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._pending.clear()
        self._idle.set()

    async def flush(self) -> None:
        """Wait until every tick received so far is published (or superseded and skipped)."""
        await self._idle.wait()

    async def _publish_ticks(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            batch, self._pending = self._pending, {}
            for tick in batch.values():
                try:
                    await self._publish_tick(tick)
                except Exception:
                    logger.exception("tick_publish_failed", symbol=tick.symbol)
            if not self._pending:
                self._idle.set()
            if self.tick_interval > 0:
                await asyncio.sleep(self.tick_interval)

    async def _publish_tick(self, tick: TickSnapshot) -> None:
        data = tick_payload(tick)
        self.bus.publish(StreamEvent("tick", None, tick.symbol, data))
        await self.cache.set(tick_cache_key(tick.symbol), data)
