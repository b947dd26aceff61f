"""Position and PnL arithmetic against hand-computed Decimals."""

from __future__ import annotations

from decimal import Decimal

from backend.models.enums import OrderSide
from backend.services.orders.positions import (
    PositionState,
    apply_fill,
    average_fill_price,
    unrealized_pnl,
)

BUY, SELL = OrderSide.BUY, OrderSide.SELL
D = Decimal
SIZE = D(300)


def test_opening_and_adding_averages_the_entry() -> None:
    state = apply_fill(PositionState(), BUY, D(2), D("3500.2"), SIZE)
    assert state == PositionState(D(2), D("3500.2"), D(0))
    state = apply_fill(state, BUY, D(1), D("3503.2"), SIZE)
    # (2 * 3500.2 + 1 * 3503.2) / 3 = 3501.2
    assert state == PositionState(D(3), D("3501.2"), D(0))


def test_partial_close_realizes_pnl_and_keeps_the_entry() -> None:
    state = PositionState(D(3), D("3501.2"), D(0))
    state = apply_fill(state, SELL, D(1), D("3510.0"), SIZE)
    # (3510.0 - 3501.2) * 1 * 300 = 2640
    assert state == PositionState(D(2), D("3501.2"), D("2640.0"))


def test_flip_from_long_to_short_opens_at_the_fill_price() -> None:
    state = PositionState(D(2), D("3500.2"), D(0))
    state = apply_fill(state, SELL, D(3), D("3490.0"), SIZE)
    # closes 2: (3490 - 3500.2) * 2 * 300 = -6120; opens 1 short at 3490
    assert state == PositionState(D(-1), D("3490.0"), D("-6120.0"))


def test_short_profit_when_price_falls() -> None:
    state = apply_fill(PositionState(), SELL, D("0.5"), D("60000.00"), D(1))
    state = apply_fill(state, BUY, D("0.5"), D("59000.50"), D(1))
    # short 0.5 from 60000 covered at 59000.50: (59000.50 - 60000) * 0.5 * -1 = 499.75
    assert state == PositionState(D(0), D(0), D("499.750"))


def test_unrealized_pnl_marks_signed_quantity() -> None:
    assert unrealized_pnl(PositionState(D(2), D("3500.2"), D(0)), D("3510"), SIZE) == D("5880.0")
    assert unrealized_pnl(PositionState(D(-1), D("3490"), D(0)), D("3495.4"), SIZE) == D("-1620.0")
    assert unrealized_pnl(PositionState(D(2), D("3500.2"), D(0)), None, SIZE) == 0


def test_average_fill_price() -> None:
    assert average_fill_price(D(0), None, D(2), D("10.5")) == D("10.5")
    assert average_fill_price(D(2), D("10.5"), D(1), D("11.1")) == D("10.7")


def test_no_float_creeps_in_over_many_fills() -> None:
    state = PositionState()
    for _ in range(1000):
        state = apply_fill(state, BUY, D("0.001"), D("0.1"), D(1))
    for _ in range(1000):
        state = apply_fill(state, SELL, D("0.001"), D("0.2"), D(1))
    assert state.quantity == 0
    assert state.realized_pnl == D("0.1")  # 1 unit * 0.1 exactly
