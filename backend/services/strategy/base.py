"""BaseStrategy: the async lifecycle every strategy follows, and its order helpers."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Coroutine
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

import structlog
from pydantic import BaseModel

from backend.core.monitoring.metrics import STRATEGY_ORDERS
from backend.domain.market import ContractInfo, OrderState, OrderTicket, TickSnapshot, TradeFill
from backend.models.enums import OrderSide, OrderStatus, OrderType
from backend.schemas.common import scaled_decimal
from backend.services.strategy.ports import PlacedOrder, StrategyOrderGateway

ZERO = Decimal(0)


class BaseStrategy(ABC):
    """A strategy on one symbol for one user; the engine feeds it events one at a time.

    Subclasses set `parameters_model` and `description`, implement `on_tick`, and may
    override `initialize`, `start`, `stop`, `on_order`, `on_trade` (calling super()).
    Orders go through the order gateway as the strategy's owner, so every risk check applies.
    """

    parameters_model: ClassVar[type[BaseModel]]
    description: ClassVar[str] = ""

    def __init__(
        self,
        strategy_id: int,
        config: BaseModel,
        *,
        user_id: int,
        symbol: str,
        orders: StrategyOrderGateway,
    ) -> None:
        self.strategy_id = strategy_id
        self.config = config
        self.user_id = user_id
        self.symbol = symbol
        self.orders = orders
        self.running = False
        self.position = ZERO
        self.orders_placed = 0
        self.open_orders: set[int] = set()
        self.last_update: datetime | None = None
        # Where `write_log` and `put_variables` go: the owner's WebSocket (set by the engine).
        self.events: Callable[[dict[str, Any]], None] | None = None
        # Where `write_log` keeps its lines instead of the log: a bounded list in a backtest
        # (set by its engine; a line per signal on stderr would cost more than the replay).
        self.log_lines: deque[str] | None = None
        self._orders_counter = STRATEGY_ORDERS.labels(strategy_id=str(strategy_id))
        self.logger = structlog.get_logger(f"strategy.{strategy_id}").bind(strategy_id=strategy_id)

    @classmethod
    def contract_problems(cls, config: BaseModel, contract: ContractInfo) -> list[dict[str, Any]]:
        """What in `config` cannot trade `contract`, as field errors under `parameters`.

        Checked when a strategy is created or re-parameterized, so that a size the contract
        cannot take is a 422 then, not an error at the first signal. None by default.
        """
        return []

    async def initialize(self) -> None:
        """Restore the position from the strategy's persisted fills."""
        self.position = await self.orders.get_position(
            user_id=self.user_id, strategy_id=self.strategy_id, symbol=self.symbol
        )

    async def start(self) -> None:
        """Begin trading."""
        self.running = True

    async def stop(self) -> None:
        """Stop trading and cancel the strategy's open orders (best effort, as vnpy does)."""
        self.running = False
        try:
            await self.cancel_all()
        except Exception:
            self.logger.warning("strategy_cancel_on_stop_failed", exc_info=True)

    @abstractmethod
    async def on_tick(self, tick: TickSnapshot) -> None:
        """React to one tick of `symbol`."""

    async def on_order(self, order: OrderState) -> None:  # noqa: B027 (optional hook)
        """React to a change of one of this strategy's orders (`order` as now committed)."""

    async def on_trade(self, fill: TradeFill) -> None:  # noqa: B027 (optional hook)
        """React to a fill (the position is already updated)."""

    def apply_order_update(self, order: OrderState) -> None:
        """Forget orders that reached a final state."""
        if order.status.is_final:
            self.open_orders.discard(order.id)

    def apply_fill(self, fill: TradeFill) -> None:
        """Update the position from one fill of this strategy's orders (and announce it)."""
        if fill.side is OrderSide.BUY:
            self.position += fill.quantity
        else:
            self.position -= fill.quantity
        self.put_variables()

    def write_log(self, message: str) -> None:
        """A log line, to the log and the owner's WebSocket (`{"event": "log", "message"}`);
        in a backtest to `log_lines`."""
        if self.log_lines is not None:
            self.log_lines.append(message)
        else:
            self.logger.info("strategy_log", message=message)
        if self.events is not None:
            self.events({"event": "log", "message": message})

    def put_variables(self) -> None:
        """The strategy's variables to the owner's WebSocket (`{"event": "variables", ...}`)."""
        if self.events is not None:
            variables = {"position": scaled_decimal(self.position)}
            self.events({"event": "variables", "running": self.running, "variables": variables})

    # buy and sell hand back send_order's coroutine (awaited the same) rather than wrap it
    # in one of their own: one coroutine less per order, which a backtest places by the
    # hundred thousand.
    def buy(
        self, quantity: Decimal, price: Decimal | None = None, order_type: OrderType | None = None
    ) -> Coroutine[Any, Any, PlacedOrder]:
        """Place a BUY order (market unless a price is given); await it."""
        return self.send_order(OrderSide.BUY, quantity, price, order_type)

    def sell(
        self, quantity: Decimal, price: Decimal | None = None, order_type: OrderType | None = None
    ) -> Coroutine[Any, Any, PlacedOrder]:
        """Place a SELL order (market unless a price is given); await it."""
        return self.send_order(OrderSide.SELL, quantity, price, order_type)

    async def cancel(self, order_id: int) -> None:
        """Cancel one of this strategy's orders."""
        await self.orders.cancel_order(user_id=self.user_id, order_id=order_id)

    async def cancel_all(self) -> None:
        """Cancel every order of this strategy still believed open."""
        if not self.open_orders:
            return
        for order_id in sorted(self.open_orders):
            await self.cancel(order_id)

    async def send_order(
        self,
        side: OrderSide,
        quantity: Decimal,
        price: Decimal | None,
        order_type: OrderType | None,
    ) -> PlacedOrder:
        """Place one order through the order service, as the owner, tagged with this strategy."""
        kind = order_type or (OrderType.MARKET if price is None else OrderType.LIMIT)
        ticket = OrderTicket(
            self.symbol, side, kind, quantity, None if kind is OrderType.MARKET else price
        )
        placed = await self.orders.place_order(
            user_id=self.user_id, strategy_id=self.strategy_id, ticket=ticket
        )
        self.orders_placed += 1
        self._orders_counter.inc()
        if placed.status.is_open:
            self.open_orders.add(placed.order_id)
        elif placed.status is OrderStatus.REJECTED:
            reason = placed.reject_reason
            self.logger.info("strategy_order_rejected", order_id=placed.order_id, reason=reason)
        return placed

    async def get_status(self) -> dict[str, Any]:
        """The strategy's own view: running flag, parameters, position, last event time."""
        return {
            "strategy_id": self.strategy_id,
            "running": self.running,
            "config": self.config.model_dump(mode="json"),
            "position": self.position,
            "orders_placed": self.orders_placed,
            "last_update": self.last_update,
        }
