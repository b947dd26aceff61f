"""What the strategy engine needs from the rest of RedFire: the order path."""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple, Protocol

from backend.domain.market import OrderTicket
from backend.models.enums import OrderStatus


class PlacedOrder(NamedTuple):
    """The order service's answer to a strategy's order.

    Immutable, as a frozen dataclass, but built at a third of its cost: a backtest gets one
    per order it places.
    """

    order_id: int
    status: OrderStatus
    reject_reason: str | None = None
    # The order's client_order_id: what its fills name it by (TradeFill.vt_orderid).
    client_order_id: str | None = None


class StrategyOrderGateway(Protocol):
    """Orders of a strategy, placed as its owner through the order service and its risk checks."""

    async def place_order(
        self,
        *,
        user_id: int,
        strategy_id: int,
        ticket: OrderTicket,
    ) -> PlacedOrder:
        """Validate, risk-check, persist (with `strategy_id`) and send one order (its
        `reference` is RedFire's own, so the ticket's is ignored)."""
        ...

    async def cancel_order(self, *, user_id: int, order_id: int) -> None:
        """Ask for an order of `user_id` to be cancelled; a final order is left alone."""
        ...

    async def get_position(self, *, user_id: int, strategy_id: int, symbol: str) -> Decimal:
        """The strategy's net position from its persisted fills (restored on resume/takeover)."""
        ...
