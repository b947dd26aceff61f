"""Position and account arithmetic, in Decimal, from fills.

A position keeps its cost basis (the signed sum of quantity x price it was opened at), not a
rounded average price: marking 101 lots bought at several prices is then exact (an average
stored at 8 places, times 101, is not). The cost of a partly closed position is the one
division there is; it is kept at COST_PLACES (20) places, so the realized PnL of each close,
rounded once to 8 places, is exact to the cent and beyond.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext

from backend.models.enums import OrderSide

ZERO = Decimal(0)
# Wide enough for a cost of 16 + 8 digits held at 20 places, and for products of them.
_WIDE = Context(prec=80, rounding=ROUND_HALF_UP)
COST_PLACES = 20
COST_QUANTUM = Decimal(1).scaleb(-COST_PLACES)


def to_cost_scale(value: Decimal) -> Decimal:
    """A cost basis at the COST_PLACES places it is stored with (half up)."""
    return value.quantize(COST_QUANTUM, rounding=ROUND_HALF_UP, context=_WIDE)


@dataclass(frozen=True, slots=True)
class PositionState:
    """Signed quantity, signed cost basis (quantity x entry price) and realized PnL."""

    quantity: Decimal = ZERO
    cost: Decimal = ZERO
    realized_pnl: Decimal = ZERO

    @property
    def avg_price(self) -> Decimal:
        """The average entry price (unrounded; 0 when flat)."""
        if self.quantity == 0:
            return ZERO
        with localcontext(_WIDE):
            return self.cost / self.quantity


def apply_fill(
    state: PositionState, side: OrderSide, quantity: Decimal, price: Decimal, size: Decimal
) -> PositionState:
    """The position after a fill: closing quantity realizes PnL, the rest opens at `price`.

    PnL of the closed quantity q is (q x exit - its share of the cost) x contract size, signed
    by the position's side; what stays open keeps the rest of the cost.
    """
    with localcontext(_WIDE):
        signed = quantity if side is OrderSide.BUY else -quantity
        current = state.quantity
        if current == 0 or (current > 0) == (signed > 0):
            return PositionState(current + signed, state.cost + signed * price, state.realized_pnl)
        closed = min(abs(current), abs(signed))
        direction = Decimal(1) if current > 0 else Decimal(-1)
        remaining = current + signed
        if abs(signed) >= abs(current):
            closed_cost = state.cost  # all of it: no division
        else:
            closed_cost = state.cost - to_cost_scale(state.cost * remaining / current)
        realized = state.realized_pnl + (closed * price * direction - closed_cost) * size
        if remaining == 0:
            return PositionState(ZERO, ZERO, realized)
        if (remaining > 0) == (current > 0):
            return PositionState(remaining, state.cost - closed_cost, realized)
        return PositionState(remaining, remaining * price, realized)


def unrealized_pnl(state: PositionState, last_price: Decimal | None, size: Decimal) -> Decimal:
    """Mark-to-market PnL of the open quantity at `last_price`: (value - cost) x size."""
    if last_price is None or state.quantity == 0:
        return ZERO
    with localcontext(_WIDE):
        return (last_price * state.quantity - state.cost) * size


def average_fill_price(
    filled: Decimal, avg_price: Decimal | None, quantity: Decimal, price: Decimal
) -> Decimal:
    """Volume-weighted average price after another fill."""
    if filled == 0 or avg_price is None:
        return price
    return (avg_price * filled + price * quantity) / (filled + quantity)
