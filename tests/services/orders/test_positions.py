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
from backend.shared.utils.currency import to_money_scale

BUY, SELL = OrderSide.BUY, OrderSide.SELL
D = Decimal
SIZE = D(300)


def test_opening_and_adding_averages_the_entry() -> None:
    state = apply_fill(PositionState(), BUY, D(2), D("3500.2"), SIZE)
    assert state == PositionState(D(2), D("7000.4"), D(0))
    state = apply_fill(state, BUY, D(1), D("3503.2"), SIZE)
    # cost 2 * 3500.2 + 1 * 3503.2 = 10503.6; average 3501.2
    assert state == PositionState(D(3), D("10503.6"), D(0))
    assert state.avg_price == D("3501.2")


def test_partial_close_realizes_pnl_and_keeps_the_entry() -> None:
    state = PositionState(D(3), D("10503.6"), D(0))
    state = apply_fill(state, SELL, D(1), D("3510.0"), SIZE)
    # (3510.0 - 3501.2) * 1 * 300 = 2640
    assert state == PositionState(D(2), D("7002.4"), D("2640.0"))
    assert state.avg_price == D("3501.2")


def test_flip_from_long_to_short_opens_at_the_fill_price() -> None:
    state = PositionState(D(2), D("7000.4"), D(0))
    state = apply_fill(state, SELL, D(3), D("3490.0"), SIZE)
    # closes 2: (3490 - 3500.2) * 2 * 300 = -6120; opens 1 short at 3490
    assert state == PositionState(D(-1), D("-3490.0"), D("-6120.0"))
    assert state.avg_price == D("3490")


def test_short_profit_when_price_falls() -> None:
    state = apply_fill(PositionState(), SELL, D("0.5"), D("60000.00"), D(1))
    state = apply_fill(state, BUY, D("0.5"), D("59000.50"), D(1))
    # short 0.5 from 60000 covered at 59000.50: (59000.50 - 60000) * 0.5 * -1 = 499.75
    assert state == PositionState(D(0), D(0), D("499.750"))


def test_unrealized_pnl_marks_signed_quantity() -> None:
    assert unrealized_pnl(PositionState(D(2), D("7000.4"), D(0)), D("3510"), SIZE) == D("5880.0")
    assert unrealized_pnl(PositionState(D(-1), D("-3490"), D(0)), D("3495.4"), SIZE) == D("-1620.0")
    assert unrealized_pnl(PositionState(D(2), D("7000.4"), D(0)), None, SIZE) == 0


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


def _buy_101_lots_at_several_prices() -> PositionState:
    """101 lots whose average, 334408 / 101 = 3310.970297..., has no finite decimal."""
    state = PositionState()
    for quantity, price in ((D(50), D(3300)), (D(50), D(3321)), (D(1), D(3358))):
        state = apply_fill(state, BUY, quantity, price, D(10))
    return state


def test_marking_a_position_bought_at_several_prices_is_exact() -> None:
    state = _buy_101_lots_at_several_prices()
    assert state.cost == D(334408)
    # (3297 x 101 - 334408) x 10; the average at 8 places (3310.97029703) gave -14110.00000030
    assert unrealized_pnl(state, D(3297), D(10)) == D(-14110)


def test_closing_in_parts_realizes_what_the_cash_says() -> None:
    state = _buy_101_lots_at_several_prices()
    realized = []
    for quantity in (D(1), D(33), D(67)):
        before = state.realized_pnl
        state = apply_fill(state, SELL, quantity, D(3320), D(10))
        realized.append(to_money_scale(state.realized_pnl - before))
    # sold 101 x 3320 = 335320 for a cost of 334408: 912 x 10, to the last place
    assert sum(realized) == D(9120)
    # each close at the average cost: 1 lot (3320 - 3310.9702970297...) x 10 = 90.29702970
    assert realized[0] == D("90.29702970")
    assert state == PositionState(D(0), D(0), state.realized_pnl)
    assert to_money_scale(state.realized_pnl) == D(9120)
