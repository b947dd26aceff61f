"""PAPER order matching through the real vnpy engine: exact Decimal prices and commissions."""

from __future__ import annotations

from decimal import Decimal

import pytest

from backend.domain.market import OrderTicket, TradeFill
from backend.models.enums import OrderSide, OrderStatus, OrderType
from backend.services.vnpy.engine import RedFireVnPyEngine, vnpy_engine_from_config
from backend.services.vnpy.errors import InvalidOrderError, OrderNotFoundError

from .conftest import BTC, IF, Recorder, paper_config

RATE = Decimal("0.0001")
IF_SIZE = Decimal(300)
BUY, SELL = OrderSide.BUY, OrderSide.SELL
D = Decimal


def statuses(recorder: Recorder, vt_orderid: str) -> list[OrderStatus]:
    return [u.status for u in recorder.updates_of(vt_orderid)]


def only_fill(recorder: Recorder, vt_orderid: str) -> TradeFill:
    fills = recorder.fills_of(vt_orderid)
    assert len(fills) == 1
    return fills[0]


async def test_market_orders_fill_at_the_touch(
    engine: RedFireVnPyEngine, recorder: Recorder
) -> None:
    buy = engine.send_order(OrderTicket(IF, BUY, OrderType.MARKET, D(2), reference="r-1"))
    sell = await engine.submit_order(OrderTicket(IF, SELL, OrderType.MARKET, D(1)))
    await recorder.settle()

    bought = only_fill(recorder, buy)
    assert (bought.symbol, bought.side, bought.price, bought.quantity) == (
        IF,
        BUY,
        D("3500.2"),
        D(2),
    )
    assert bought.commission == D("3500.2") * 2 * IF_SIZE * RATE == D("210.012")
    assert bought.trade_time.utcoffset() is not None
    sold = only_fill(recorder, sell)
    assert (sold.side, sold.price, sold.quantity, sold.commission) == (
        SELL,
        D(3500),
        D(1),
        D("105"),
    )
    assert statuses(recorder, buy) == [OrderStatus.SUBMITTED, OrderStatus.FILLED]
    final = recorder.updates_of(buy)[-1]
    assert (final.traded, final.quantity, final.reference) == (D(2), D(2), "r-1")
    assert bought.vt_tradeid != sold.vt_tradeid
    assert engine.paper_gateway().commission_for(bought.vt_tradeid) == D("210.012")


async def test_a_resting_limit_fills_when_a_tick_crosses_it(
    engine: RedFireVnPyEngine, recorder: Recorder
) -> None:
    order = engine.send_order(OrderTicket(IF, BUY, OrderType.LIMIT, D(1), D("3499.0")))
    paper = engine.paper_gateway(IF)
    paper.inject_tick(IF, last_price=D("3499.4"))  # ask 3499.6 > limit: still resting
    await recorder.settle()
    assert recorder.fills_of(order) == []
    assert [o.vt_orderid for o in engine.list_open_orders()] == [order]

    paper.inject_tick(IF, last_price=D("3498.6"))  # ask 3498.8 <= limit: fills at the ask
    await recorder.settle()
    fill = only_fill(recorder, order)
    assert (fill.price, fill.quantity, fill.commission) == (D("3498.8"), D(1), D("104.964"))
    assert statuses(recorder, order) == [OrderStatus.SUBMITTED, OrderStatus.FILLED]
    assert engine.list_open_orders() == []


async def test_a_marketable_limit_fills_at_once_at_the_better_price(
    engine: RedFireVnPyEngine, recorder: Recorder
) -> None:
    order = engine.send_order(OrderTicket(IF, SELL, OrderType.LIMIT, D(3), D("3499.0")))
    await recorder.settle()
    fill = only_fill(recorder, order)
    assert (fill.price, fill.quantity) == (D("3500.0"), D(3))  # the bid, better than the limit
    assert fill.commission == D("315")


async def test_stop_orders_trigger_into_market_orders(
    engine: RedFireVnPyEngine, recorder: Recorder
) -> None:
    buy_stop = engine.send_order(OrderTicket(IF, BUY, OrderType.STOP, D(1), D("3501.0")))
    sell_stop = engine.send_order(OrderTicket(IF, SELL, OrderType.STOP, D(2), D("3497.0")))
    paper = engine.paper_gateway(IF)
    paper.inject_tick(IF, last_price=D("3500.6"))  # ask 3500.8 < 3501.0: not triggered
    await recorder.settle()
    assert recorder.trades == []

    paper.inject_tick(IF, last_price=D("3501.0"))  # ask 3501.2 >= 3501.0: buy at the ask
    paper.inject_tick(IF, last_price=D("3496.0"), bid_price=D("3496.4"), ask_price=D("3496.8"))
    await recorder.settle()
    bought = only_fill(recorder, buy_stop)
    assert (bought.price, bought.commission) == (D("3501.2"), D("105.036"))
    sold = only_fill(recorder, sell_stop)
    assert (sold.price, sold.quantity, sold.commission) == (D("3496.4"), D(2), D("209.784"))


async def test_a_cancelled_order_never_fills(engine: RedFireVnPyEngine, recorder: Recorder) -> None:
    order = engine.send_order(OrderTicket(IF, BUY, OrderType.LIMIT, D(1), D("3400.0")))
    await engine.request_cancel(order)
    engine.paper_gateway(IF).inject_tick(IF, last_price=D("3300.0"))
    engine.cancel_order(order)  # cancelling a final order is a no-op
    await recorder.settle()
    assert statuses(recorder, order) == [OrderStatus.SUBMITTED, OrderStatus.CANCELLED]
    assert recorder.fills_of(order) == []
    update = engine.get_order(order)
    assert update is not None
    assert update.status is OrderStatus.CANCELLED
    with pytest.raises(OrderNotFoundError):
        engine.cancel_order("PAPER.no-such-order")


async def test_an_unknown_contract_is_rejected_with_a_reason(
    engine: RedFireVnPyEngine, recorder: Recorder
) -> None:
    order = engine.send_order(
        OrderTicket("XX2412.CFFEX", BUY, OrderType.MARKET, D(1)), gateway="PAPER"
    )
    await recorder.settle()
    [update] = recorder.updates_of(order)
    assert update.status is OrderStatus.REJECTED
    assert update.reject_reason == "unknown contract XX2412.CFFEX"
    assert engine.paper_gateway().reject_reason(order) == "unknown contract XX2412.CFFEX"


@pytest.mark.parametrize(
    ("symbol", "order_type", "quantity", "price", "message"),
    [
        ("IF2412", OrderType.MARKET, D(1), None, "not a vt_symbol"),
        ("IF2412.NOWHERE", OrderType.MARKET, D(1), None, "no exchange 'NOWHERE'"),
        (IF, OrderType.LIMIT, D(1), None, "needs a positive price"),
        (IF, OrderType.STOP, D(1), D(0), "needs a positive price"),
        (IF, OrderType.MARKET, D(0), None, "quantity must be positive"),
        (IF, OrderType.LIMIT, D(1), D("3500.12345678901234567"), "losing precision"),
    ],
)
async def test_orders_vnpy_cannot_express_are_refused(
    engine: RedFireVnPyEngine,
    symbol: str,
    order_type: OrderType,
    quantity: Decimal,
    price: Decimal | None,
    message: str,
) -> None:
    with pytest.raises(InvalidOrderError, match=message):
        engine.send_order(OrderTicket(symbol, BUY, order_type, quantity, price))


async def test_fractional_quantities_stay_exact(
    engine: RedFireVnPyEngine, recorder: Recorder
) -> None:
    order = engine.send_order(OrderTicket(BTC, BUY, OrderType.MARKET, D("0.003")))
    await recorder.settle()
    fill = only_fill(recorder, order)
    assert (fill.price, fill.quantity) == (D("60000.01"), D("0.003"))
    assert fill.commission == D("0.018000003")


async def test_orders_can_be_looked_up_for_reconciliation(engine: RedFireVnPyEngine) -> None:
    resting = engine.send_order(
        OrderTicket(IF, SELL, OrderType.LIMIT, D(4), D("3600.0"), reference="abc")
    )
    update = engine.get_order(resting)
    assert update is not None
    assert (update.status, update.quantity, update.price, update.reference) == (
        OrderStatus.SUBMITTED,
        D(4),
        D("3600.0"),
        "abc",
    )
    assert engine.get_order("PAPER.nothing") is None
    assert engine.get_order("NOGW.1") is None


async def test_inject_tick_refuses_unknown_contracts(engine: RedFireVnPyEngine) -> None:
    with pytest.raises(ValueError, match="PAPER lists no contract"):
        engine.paper_gateway().inject_tick("XX.CFFEX", last_price=D(1))


async def _scenario() -> list[tuple[str, OrderSide, Decimal, Decimal, Decimal]]:
    engine = vnpy_engine_from_config(paper_config())
    await engine.start()
    try:
        recorder = Recorder(engine)
        paper = engine.paper_gateway()
        engine.send_order(OrderTicket(IF, BUY, OrderType.LIMIT, D(1), D("3499.0")))
        engine.send_order(OrderTicket(IF, SELL, OrderType.STOP, D(2), D("3498.0")))
        engine.send_order(OrderTicket(BTC, SELL, OrderType.MARKET, D("0.5")))
        for price in ("3499.8", "3498.8", "3497.6", "3501.0"):
            paper.inject_tick(IF, last_price=D(price))
        engine.send_order(OrderTicket(IF, BUY, OrderType.MARKET, D(3)))
        await recorder.settle()
        return [(f.symbol, f.side, f.price, f.quantity, f.commission) for f in recorder.trades]
    finally:
        await engine.stop()


async def test_same_seed_and_ticks_give_the_same_fills() -> None:
    first = await _scenario()
    assert first == await _scenario()
    # 0.5 BTC walks the start-up quote's five bid levels of 0.1 (100 lots of 0.001) each.
    btc_levels = [D("60000.00"), D("59999.99"), D("59999.98"), D("59999.97"), D("59999.96")]
    assert first == [
        *[(BTC, SELL, price, D("0.1"), price * D("0.1") * RATE) for price in btc_levels],
        (IF, BUY, D("3499.0"), D(1), D("104.970")),
        (IF, SELL, D("3497.6"), D(2), D("209.856")),
        (IF, BUY, D("3501.2"), D(3), D("315.108")),
    ]
