"""SimulatedOrders fills as vnpy's BacktestingEngine: on the next bar that crosses the price."""

from __future__ import annotations

from decimal import Decimal

import pytest

from backend.domain.market import DEPTH_FIELDS, OrderState, OrderTicket, TickSnapshot, TradeFill
from backend.models.enums import OrderSide, OrderStatus, OrderType
from backend.schemas.orders import OrderRead
from backend.services.backtest.bars import replay_ticks
from backend.services.backtest.engine import drive
from backend.services.backtest.events import BacktestOrder, BacktestTradeFill
from backend.services.backtest.orders import SimulatedOrders
from tests.services.backtest.conftest import make_bars

# Bar 1 opens at 100, trades 98..103; bar 2 opens at 97, trades 95..99.
BARS = make_bars([("100", "100", "100", "100"), ("100", "103", "98", "101"),
                  ("97", "99", "95", "96")])  # fmt: skip


def place(
    orders: SimulatedOrders, side: OrderSide, kind: OrderType, price: str | None = None
) -> int:
    """Place one order of 2 lots; its id."""
    placed = drive(
        orders.place_order(
            user_id=1,
            strategy_id=0,
            ticket=OrderTicket(
                BARS.symbol, side, kind, Decimal(2), None if price is None else Decimal(price)
            ),
        )
    )
    assert placed.status is OrderStatus.SUBMITTED
    return placed.order_id


def fills_after(orders: SimulatedOrders, *indexes: int) -> list[tuple[int, str, str]]:
    for index in indexes:
        orders.bar_index = index
        orders.cross(index)
    fills = orders.fills
    return [
        (bar, side.value, str(price))
        for bar, side, price in zip(fills.bar_index, fills.side, fills.price, strict=True)
    ]


def new_orders(pricetick: str = "0") -> SimulatedOrders:
    return SimulatedOrders(
        BARS, size=Decimal(10), rate=Decimal("0.001"), pricetick=Decimal(pricetick)
    )


@pytest.mark.parametrize(
    ("side", "kind", "price", "expected"),
    [
        # Buy limit: fills when low <= price, at min(price, open).
        (OrderSide.BUY, OrderType.LIMIT, "99", [(1, "BUY", "99")]),
        (OrderSide.BUY, OrderType.LIMIT, "102", [(1, "BUY", "100")]),
        (OrderSide.BUY, OrderType.LIMIT, "96", [(2, "BUY", "96")]),
        (OrderSide.BUY, OrderType.LIMIT, "94", []),
        # Sell limit: fills when high >= price, at max(price, open).
        (OrderSide.SELL, OrderType.LIMIT, "102", [(1, "SELL", "102")]),
        (OrderSide.SELL, OrderType.LIMIT, "99", [(1, "SELL", "100")]),
        (OrderSide.SELL, OrderType.LIMIT, "104", []),
        # Market: the next bar's open.
        (OrderSide.BUY, OrderType.MARKET, None, [(1, "BUY", "100")]),
        (OrderSide.SELL, OrderType.MARKET, None, [(1, "SELL", "100")]),
        # Stops: a buy stop triggers when high >= price, at max(price, open); a sell stop
        # when low <= price, at min(price, open).
        (OrderSide.BUY, OrderType.STOP, "102", [(1, "BUY", "102")]),
        (OrderSide.SELL, OrderType.STOP, "96", [(2, "SELL", "96")]),
        (OrderSide.SELL, OrderType.STOP, "98.5", [(1, "SELL", "98.5")]),
    ],
)
def test_fill_rules(side: OrderSide, kind: OrderType, price: str | None, expected: list) -> None:
    orders = new_orders()
    place(orders, side, kind, price)
    assert fills_after(orders, 1, 2) == expected


def test_a_fill_queues_the_order_update_then_the_trade_with_its_commission() -> None:
    orders = new_orders()
    order_id = place(orders, OrderSide.BUY, OrderType.LIMIT, "99")
    fills_after(orders, 1)
    update, trade = orders.events
    assert isinstance(update, BacktestOrder)
    assert (update.status, update.filled_quantity, update.id) == (
        OrderStatus.FILLED,
        Decimal(2),
        order_id,
    )
    assert isinstance(trade, BacktestTradeFill)
    assert trade.vt_orderid == f"BACKTEST.{order_id}"
    assert trade.trade_time == BARS.datetimes[1]
    # 99 * 2 lots * size 10 * rate 0.001
    assert trade.commission == Decimal("1.98")
    assert not orders.active


def test_limit_prices_round_to_the_tick_and_bad_orders_are_rejected() -> None:
    orders = new_orders(pricetick="0.5")
    place(orders, OrderSide.BUY, OrderType.LIMIT, "98.7")
    assert fills_after(orders, 1) == [(1, "BUY", "98.5")]
    for price, quantity in (("-1", "1"), ("99", "0")):
        placed = drive(
            orders.place_order(
                user_id=1,
                strategy_id=0,
                ticket=OrderTicket(
                    BARS.symbol, OrderSide.BUY, OrderType.LIMIT, Decimal(quantity), Decimal(price)
                ),
            )
        )
        assert placed.status is OrderStatus.REJECTED
        assert placed.reject_reason


def test_cancel_removes_the_order_and_reports_it() -> None:
    orders = new_orders()
    order_id = place(orders, OrderSide.BUY, OrderType.LIMIT, "94")
    drive(orders.cancel_order(user_id=1, order_id=order_id))
    assert not orders.active
    [update] = orders.events
    assert (update.status, update.id) == (OrderStatus.CANCELLED, order_id)
    assert fills_after(orders, 1, 2) == []


def test_the_order_look_alike_has_exactly_the_fields_a_strategy_reads() -> None:
    read = {name for name in dir(OrderState) if not name.startswith("_")}
    assert set(BacktestOrder._fields) == read
    assert read <= set(OrderRead.model_fields)  # the live order carries every one


def test_the_fill_look_alike_has_exactly_the_live_fields() -> None:
    assert set(BacktestTradeFill._fields) == set(TradeFill.__dataclass_fields__)


def test_the_tick_look_alike_reads_as_the_tick_snapshot_of_its_bar() -> None:
    [tick] = replay_ticks(BARS, first=2)
    fields = set(TickSnapshot.__dataclass_fields__) | set(DEPTH_FIELDS)
    close = Decimal(96)
    expected = dict.fromkeys(fields, Decimal(0)) | {
        "symbol": BARS.symbol, "gateway": "BACKTEST", "last_price": close, "bid_price_1": close,
        "ask_price_1": close, "volume": Decimal(1), "datetime": BARS.datetimes[2], "depth": (),
    }  # fmt: skip
    assert {name: getattr(tick, name) for name in fields} == expected
