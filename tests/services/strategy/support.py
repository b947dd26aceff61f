"""Test doubles for the strategy engine: a recording order port, ticks, extra strategy classes."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy import update

from backend.app.container import AppContainer
from backend.domain.market import OrderTicket, TickSnapshot, TradeFill
from backend.models.enums import OrderSide, OrderStatus, OrderType, StrategyStatus
from backend.models.strategy import Strategy
from backend.services.strategy.base import BaseStrategy
from backend.services.strategy.engine import StrategyEngine
from backend.services.strategy.ports import PlacedOrder

SYMBOL = "IF2412.CFFEX"
OTHER_SYMBOL = "rb2501.SHFE"
_EPOCH = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


@dataclass(frozen=True)
class PlacedCall:
    """One place_order call as the port saw it."""

    user_id: int
    strategy_id: int
    symbol: str
    side: OrderSide
    order_type: OrderType
    quantity: Decimal
    price: Decimal | None
    order_id: int


@dataclass
class RecordingOrderGateway:
    """The StrategyOrderGateway port, recording calls; `delay` makes placement slow."""

    delay: float = 0.0
    status: OrderStatus = OrderStatus.SUBMITTED
    positions: dict[int, Decimal] = field(default_factory=dict)
    placed: list[PlacedCall] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def place_order(
        self,
        *,
        user_id: int,
        strategy_id: int,
        ticket: OrderTicket,
    ) -> PlacedOrder:
        """Record and answer with the configured status."""
        if self.delay:
            await asyncio.sleep(self.delay)
        order_id = next(self._ids)
        t = ticket
        call = PlacedCall(
            user_id, strategy_id, t.symbol, t.side, t.order_type, t.quantity, t.price, order_id
        )
        self.placed.append(call)
        return PlacedOrder(order_id=order_id, status=self.status)

    async def cancel_order(self, *, user_id: int, order_id: int) -> None:
        """Record the cancel."""
        self.cancelled.append(order_id)

    async def get_position(self, *, user_id: int, strategy_id: int, symbol: str) -> Decimal:
        """The configured position (0 by default)."""
        return self.positions.get(strategy_id, Decimal(0))


def tick(price: Decimal | str | int, symbol: str = SYMBOL, n: int = 0) -> TickSnapshot:
    """A tick whose every price is `price`."""
    value = Decimal(price)
    return TickSnapshot(
        symbol=symbol,
        gateway="PAPER",
        last_price=value,
        bid_price_1=value,
        ask_price_1=value,
        bid_volume_1=Decimal(1),
        ask_volume_1=Decimal(1),
        volume=Decimal(n),
        datetime=_EPOCH,
    )


def fill(side: OrderSide, quantity: str, order_id: int = 1, price: str = "100") -> TradeFill:
    """A fill of one order."""
    return TradeFill(
        vt_tradeid=f"PAPER.T{order_id}",
        vt_orderid=f"PAPER.{order_id}",
        symbol=SYMBOL,
        gateway="PAPER",
        side=side,
        price=Decimal(price),
        quantity=Decimal(quantity),
        commission=Decimal(0),
        trade_time=_EPOCH,
    )


class NoParameters(BaseModel):
    """No parameters."""

    model_config = ConfigDict(extra="forbid")


class TickCounter(BaseStrategy):
    """Counts the ticks it receives (and remembers their prices)."""

    parameters_model: ClassVar[type[BaseModel]] = NoParameters
    description: ClassVar[str] = "test: counts ticks"

    def __init__(self, strategy_id: int, config: BaseModel, **context: Any) -> None:
        super().__init__(strategy_id, config, **context)
        self.prices: list[Decimal] = []

    async def on_tick(self, tick: TickSnapshot) -> None:
        """Remember the price."""
        self.prices.append(tick.last_price)


class ExplodingStrategy(BaseStrategy):
    """Raises on its third tick."""

    parameters_model: ClassVar[type[BaseModel]] = NoParameters
    description: ClassVar[str] = "test: fails"

    def __init__(self, strategy_id: int, config: BaseModel, **context: Any) -> None:
        super().__init__(strategy_id, config, **context)
        self.seen = 0

    async def on_tick(self, tick: TickSnapshot) -> None:
        """Fail on the third tick."""
        self.seen += 1
        if self.seen == 3:
            raise ZeroDivisionError("boom on tick 3")


class DecimalTroubleStrategy(ExplodingStrategy):
    """Divides zero by zero on its third tick (the decimal module's InvalidOperation)."""

    async def on_tick(self, tick: TickSnapshot) -> None:
        """0/0 on the third tick."""
        self.seen += 1
        if self.seen == 3:
            self.position = tick.last_price * 0 / (tick.last_price * 0)


class BrokenInitStrategy(TickCounter):
    """Cannot initialize."""

    async def initialize(self) -> None:
        """Fail."""
        raise RuntimeError("no market data")


async def wait_for(
    condition: Callable[[], bool | Awaitable[bool]], within: float = 5.0, step: float = 0.02
) -> None:
    """Poll `condition` until true; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(step)


class OrderEveryTick(TickCounter):
    """Places a limit BUY at each tick's price (to see ordering under slow placement)."""

    async def on_tick(self, tick: TickSnapshot) -> None:
        """Remember the price, then buy at it."""
        self.prices.append(tick.last_price)
        await self.buy(Decimal(1), tick.last_price)


@asynccontextmanager
async def app_engine_paused(container: AppContainer) -> AsyncIterator[StrategyEngine | None]:
    """Keep the app's own engine (when wired) away from a test's strategy rows."""
    current = getattr(container, "strategies", None)
    engine = current if isinstance(current, StrategyEngine) else None
    if engine is not None:
        await engine.stop()
    try:
        yield engine
    finally:
        async with container.database.session() as session:
            await session.execute(update(Strategy).values(status=StrategyStatus.STOPPED))
        if engine is not None:
            await engine.start()
