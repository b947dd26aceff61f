"""Buying power arithmetic on the PAPER market's IF2412 (size 300, last price 3500)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from backend.app.container import AppContainer
from backend.models.enums import OrderSide
from backend.services.orders.buying_power import BuyingPower, Exposure, Holdings
from backend.services.orders.fills import AccountDefaults
from backend.services.orders.positions import PositionState
from tests.api.trading import quote

IF = "IF2412.CFFEX"
BUY, SELL = OrderSide.BUY, OrderSide.SELL
LOT = Decimal(3500 * 300)  # one lot's notional at the last price


@pytest.fixture
async def power(container: AppContainer) -> BuyingPower:
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    return BuyingPower(container.trading.market, AccountDefaults("CNY", Decimal(10_000_000)))


def _long(quantity: int, balance: Decimal = Decimal(10_000_000)) -> Holdings:
    position = PositionState(Decimal(quantity), Decimal(quantity) * 3500)  # cost at 3500
    return Holdings(balance, positions={IF: position})


def test_a_position_holds_its_notional_and_orders_what_they_add(power: BuyingPower) -> None:
    holdings = _long(2)
    holdings.exposure[(IF, BUY)] = Exposure().add(Decimal(3), Decimal(3400))
    figures = power.figures(holdings)
    assert figures.margin == 2 * LOT
    assert figures.frozen == 3 * 3400 * 300
    assert figures.available == Decimal(10_000_000) - 2 * LOT - 3 * 3400 * 300


def test_an_order_that_only_closes_needs_nothing_even_from_an_account_in_the_red(
    power: BuyingPower,
) -> None:
    holdings = _long(9, balance=Decimal(-1))
    assert power.figures(holdings).available < 0
    assert power.take(holdings, IF, SELL, Decimal(9), Decimal(3500))
    assert power.figures(holdings).frozen == 0
    # The long is spoken for: a further sell opens a short, which must be paid for.
    assert not power.take(holdings, IF, SELL, Decimal(1), Decimal(3500))
    assert holdings.exposure[(IF, SELL)] == Exposure(Decimal(9), Decimal(9 * 3500))


def test_the_part_beyond_the_position_holds_at_the_sides_average_price(
    power: BuyingPower,
) -> None:
    holdings = _long(2)
    assert power.take(holdings, IF, SELL, Decimal(2), Decimal(3600))
    assert power.take(holdings, IF, SELL, Decimal(2), Decimal(3800))
    # 4 lots to sell, 2 close the long: 2 open a short, at the average 3700.
    assert power.frozen(holdings, IF) == 2 * 3700 * 300


def test_an_order_is_refused_when_it_does_not_fit_and_holds_nothing(power: BuyingPower) -> None:
    holdings = Holdings(Decimal(10_000_000))
    accepted = [power.take(holdings, IF, BUY, Decimal(3), Decimal(3316)) for _ in range(5)]
    assert accepted == [True, True, True, False, False]
    assert power.figures(holdings).frozen == 9 * 3316 * 300
    # What still fits goes through.
    assert power.take(holdings, IF, BUY, Decimal(1), Decimal(3316))


def test_a_margin_ratio_holds_that_share_of_the_notional(container: AppContainer) -> None:
    defaults = AccountDefaults("CNY", Decimal(10_000_000), margin_ratio=Decimal("0.1"))
    power = BuyingPower(container.trading.market, defaults)
    holdings = Holdings(Decimal(10_000_000))
    accepted = [power.take(holdings, IF, BUY, Decimal(30), Decimal(3316)) for _ in range(4)]
    assert accepted == [True, True, True, False]
    assert power.figures(holdings).frozen == Decimal("0.1") * 90 * 3316 * 300


def test_an_order_without_a_price_may_only_close(power: BuyingPower) -> None:
    """A market order before the first trade cannot be valued."""
    holdings = _long(2)
    assert power.take(holdings, IF, SELL, Decimal(2), None)
    assert not power.take(holdings, IF, SELL, Decimal(1), None)
    assert not power.take(holdings, IF, BUY, Decimal(1), None)


def test_what_a_batch_carries_from_order_to_order_is_what_its_book_holds(
    power: BuyingPower,
) -> None:
    """Each hold starts from the amount the last one left (Holdings.frozen), not a fresh
    computation: both give the same answers, availability and held amounts, order by order."""
    carried, fresh = _long(2, Decimal(4) * LOT), _long(2, Decimal(4) * LOT)
    orders = [
        (SELL, 1, 3600),  # closes part of the long
        (SELL, 1, None),  # a market order before the first trade: closes the rest
        (SELL, 3, 3700),  # opens a short
        (BUY, 2, 3400),  # closes it in part
        (BUY, 9, 3500),  # more than is available: refused
        (BUY, 4, 3450),
        (SELL, 2, 3550),
    ]
    for side, quantity, price in orders:
        fresh.frozen.clear()  # computed again from the book, as before the batch
        amount = Decimal(quantity)
        at = None if price is None else Decimal(price)
        assert power.hold(carried, IF, side, amount, at) == power.hold(fresh, IF, side, amount, at)
        assert (carried.exposure, carried.available) == (fresh.exposure, fresh.available)
        if IF in carried.frozen:
            assert carried.frozen[IF] == power.frozen(carried, IF)
    assert carried.frozen[IF] > 0  # the short and the buys beyond it hold something
    assert not power.take(fresh, IF, BUY, Decimal(9), Decimal(3500))
