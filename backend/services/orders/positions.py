"""Position and account arithmetic, in Decimal, from fills."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from backend.models.enums import OrderSide

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class PositionState:
    """Signed quantity, average entry price and realized PnL of one contract."""

    quantity: Decimal = ZERO
    avg_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO


def apply_fill(
    state: PositionState, side: OrderSide, quantity: Decimal, price: Decimal, size: Decimal
) -> PositionState:
    """The position after a fill: closing quantity realizes PnL, the rest opens at `price`.

    PnL is (exit - entry) * closed quantity * contract size, signed by the position's side.
    """
    signed = quantity if side is OrderSide.BUY else -quantity
    current = state.quantity
    if current == 0 or (current > 0) == (signed > 0):
        new_quantity = current + signed
        cost = abs(current) * state.avg_price + abs(signed) * price
        return PositionState(new_quantity, cost / abs(new_quantity), state.realized_pnl)
    closed = min(abs(current), abs(signed))
    direction = Decimal(1) if current > 0 else Decimal(-1)
    realized = state.realized_pnl + (price - state.avg_price) * closed * size * direction
    new_quantity = current + signed
    if new_quantity == 0:
        return PositionState(ZERO, ZERO, realized)
    if (new_quantity > 0) == (current > 0):
        return PositionState(new_quantity, state.avg_price, realized)
    return PositionState(new_quantity, price, realized)


def unrealized_pnl(state: PositionState, last_price: Decimal | None, size: Decimal) -> Decimal:
    """Mark-to-market PnL of the open quantity at `last_price`."""
    if last_price is None or state.quantity == 0:
        return ZERO
    return (last_price - state.avg_price) * state.quantity * size


def average_fill_price(
    filled: Decimal, avg_price: Decimal | None, quantity: Decimal, price: Decimal
) -> Decimal:
    """Volume-weighted average price after another fill."""
    if filled == 0 or avg_price is None:
        return price
    return (avg_price * filled + price * quantity) / (filled + quantity)
