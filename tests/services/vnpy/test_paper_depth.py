"""PAPER's depth through the real vnpy engine: orders walk the levels, one trade per level."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from backend.domain.market import DEPTH_FIELDS, OrderTicket
from backend.models.enums import OrderSide, OrderStatus, OrderType
from backend.schemas.market import TickRead
from backend.services.stream.publisher import tick_payload
from backend.services.vnpy.engine import RedFireVnPyEngine
from backend.services.vnpy.paper_gateway import PaperGateway
from backend.services.vnpy.paper_market import DEPTH_LEVELS, PaperContract, RandomWalk

from .conftest import BTC, IF, RB, Recorder

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
RATE, IF_SIZE = D("0.0001"), D(300)


def deep_if_tick(paper: PaperGateway) -> None:
    """IF at 3500.0 / 3500.2 with three ask levels (3, 4 and 5 lots) and two bid levels."""
    paper.inject_tick(
        IF,
        last_price=D("3500.0"),
        bid_volume=D(2),
        ask_volume=D(3),
        bid_depth=[(D("3499.8"), D(6))],
        ask_depth=[(D("3500.4"), D(4)), (D("3500.6"), D(5))],
    )


def fills(recorder: Recorder, vt_orderid: str) -> list[tuple[Decimal, Decimal]]:
    return [(f.price, f.quantity) for f in recorder.fills_of(vt_orderid)]


def statuses(recorder: Recorder, vt_orderid: str) -> list[OrderStatus]:
    return [u.status for u in recorder.updates_of(vt_orderid)]


def average(taken: list[tuple[Decimal, Decimal]]) -> Decimal:
    return sum((price * volume for price, volume in taken), D(0)) / sum(v for _, v in taken)


async def test_a_market_order_larger_than_level_one_walks_the_book(
    engine: RedFireVnPyEngine, recorder: Recorder
) -> None:
    deep_if_tick(engine.paper_gateway(IF))
    order = engine.send_order(OrderTicket(IF, BUY, OrderType.MARKET, D(10)))
    await recorder.settle()

    taken = fills(recorder, order)
    assert taken == [(D("3500.2"), D(3)), (D("3500.4"), D(4)), (D("3500.6"), D(3))]
    assert average(taken) == D("3500.4")  # 35004.0 / 10, exact
    assert [f.commission for f in recorder.fills_of(order)] == [
        price * volume * IF_SIZE * RATE for price, volume in taken
    ]
    assert len({f.vt_tradeid for f in recorder.fills_of(order)}) == 3
    assert statuses(recorder, order) == [OrderStatus.SUBMITTED, OrderStatus.FILLED]
    assert recorder.updates_of(order)[-1].traded == D(10)


async def test_a_market_order_larger_than_all_depth_is_partially_filled_then_cancelled(
    engine: RedFireVnPyEngine, recorder: Recorder
) -> None:
    deep_if_tick(engine.paper_gateway(IF))
    order = engine.send_order(OrderTicket(IF, SELL, OrderType.MARKET, D(20)))
    await recorder.settle()

    assert fills(recorder, order) == [(D("3500.0"), D(2)), (D("3499.8"), D(6))]
    assert statuses(recorder, order) == [OrderStatus.SUBMITTED, OrderStatus.CANCELLED]
    final = recorder.updates_of(order)[-1]
    assert (final.traded, final.quantity) == (D(8), D(20))
    assert engine.list_open_orders() == []
    current = engine.get_order(order)
    assert current is not None
    assert (current.status, current.traded) == (OrderStatus.CANCELLED, D(8))


async def test_taken_depth_stays_taken_until_the_next_tick(
    engine: RedFireVnPyEngine, recorder: Recorder
) -> None:
    paper = engine.paper_gateway(IF)
    deep_if_tick(paper)
    first = engine.send_order(OrderTicket(IF, BUY, OrderType.MARKET, D(2)))
    second = engine.send_order(OrderTicket(IF, BUY, OrderType.MARKET, D(2)))
    third = engine.send_order(
        OrderTicket(IF, BUY, OrderType.MARKET, D(20))
    )  # the 7 lots left, no more
    deep_if_tick(paper)  # a new tick shows the whole book again
    fourth = engine.send_order(OrderTicket(IF, BUY, OrderType.MARKET, D(2)))
    await recorder.settle()

    assert fills(recorder, first) == [(D("3500.2"), D(2))]
    assert fills(recorder, second) == [(D("3500.2"), D(1)), (D("3500.4"), D(1))]
    assert fills(recorder, third) == [(D("3500.4"), D(3)), (D("3500.6"), D(5))]
    assert statuses(recorder, third)[-1] is OrderStatus.CANCELLED
    assert fills(recorder, fourth) == [(D("3500.2"), D(2))]


async def test_a_marketable_limit_takes_the_crossing_levels_and_rests_the_rest(
    engine: RedFireVnPyEngine, recorder: Recorder
) -> None:
    paper = engine.paper_gateway(IF)
    deep_if_tick(paper)
    order = engine.send_order(OrderTicket(IF, BUY, OrderType.LIMIT, D(10), D("3500.4")))
    await recorder.settle()

    assert fills(recorder, order) == [(D("3500.2"), D(3)), (D("3500.4"), D(4))]
    assert statuses(recorder, order) == [OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED]
    [resting] = engine.list_open_orders()
    assert (resting.vt_orderid, resting.traded, resting.quantity) == (order, D(7), D(10))

    paper.inject_tick(IF, last_price=D("3500.6"))  # ask 3500.8: above the limit, nothing
    paper.inject_tick(IF, last_price=D("3499.8"))  # ask 3500.0 <= limit: the rest fills there
    await recorder.settle()
    assert fills(recorder, order)[2:] == [(D("3500.0"), D(3))]
    assert statuses(recorder, order)[-1] is OrderStatus.FILLED
    assert engine.list_open_orders() == []


async def test_resting_orders_share_a_tick_s_depth_in_time_priority(
    engine: RedFireVnPyEngine, recorder: Recorder
) -> None:
    paper = engine.paper_gateway(IF)
    older = engine.send_order(OrderTicket(IF, BUY, OrderType.LIMIT, D(5), D("3499.0")))
    newer = engine.send_order(OrderTicket(IF, BUY, OrderType.LIMIT, D(5), D("3499.0")))
    paper.inject_tick(IF, last_price=D("3498.6"), ask_volume=D(6))  # ask 3498.8: 6 lots
    await recorder.settle()
    assert fills(recorder, older) == [(D("3498.8"), D(5))]
    assert fills(recorder, newer) == [(D("3498.8"), D(1))]
    assert [o.vt_orderid for o in engine.list_open_orders()] == [newer]

    paper.inject_tick(IF, last_price=D("3498.6"), ask_volume=D(2))
    await recorder.settle()
    assert fills(recorder, newer)[1:] == [(D("3498.8"), D(2))]
    paper.inject_tick(IF, last_price=D("3498.6"), ask_volume=D(10))
    await recorder.settle()
    assert fills(recorder, newer)[2:] == [(D("3498.8"), D(2))]
    assert statuses(recorder, newer)[-1] is OrderStatus.FILLED


async def test_a_triggered_stop_walks_the_book_and_cancels_what_is_not_there(
    engine: RedFireVnPyEngine, recorder: Recorder
) -> None:
    paper = engine.paper_gateway(IF)
    stop = engine.send_order(OrderTicket(IF, BUY, OrderType.STOP, D(15), D("3501.0")))
    paper.inject_tick(  # ask 3501.2 >= stop: a market order for 15 against 12 shown
        IF,
        last_price=D("3501.0"),
        ask_volume=D(3),
        ask_depth=[(D("3501.4"), D(4)), (D("3501.6"), D(5))],
    )
    await recorder.settle()
    assert fills(recorder, stop) == [(D("3501.2"), D(3)), (D("3501.4"), D(4)), (D("3501.6"), D(5))]
    assert statuses(recorder, stop) == [OrderStatus.SUBMITTED, OrderStatus.CANCELLED]
    assert engine.list_open_orders() == []


async def test_every_listed_symbol_moves_on_every_step(engine: RedFireVnPyEngine) -> None:
    paper = engine.paper_gateway()
    start = datetime(2024, 1, 2, tzinfo=UTC)
    previous: dict[str, Decimal] = {}
    for _ in range(200):
        stepped = dict(paper.step(start))
        assert set(stepped) == {IF, RB, BTC}
        for symbol, quote in stepped.items():
            assert quote.last != previous.get(symbol), symbol
            previous[symbol] = quote.last
            bids = [(quote.bid, quote.bid_volume), *quote.bid_depth]
            asks = [(quote.ask, quote.ask_volume), *quote.ask_depth]
            assert len(bids) == len(asks) == DEPTH_LEVELS
            assert [p for p, _ in bids] == sorted((p for p, _ in bids), reverse=True)
            assert [p for p, _ in asks] == sorted(p for p, _ in asks)
            assert bids[0][0] < asks[0][0]
            assert all(volume > 0 for _, volume in bids + asks)


def test_volatility_scales_the_steps_and_prices_stay_on_the_grid() -> None:
    def steps(volatility: str) -> list[Decimal]:
        contract = PaperContract.from_setting(
            {
                "symbol": "BTCUSDT",
                "exchange": "GLOBAL",
                "price_tick": "0.01",
                "initial_price": "60000.00",
                "volatility": volatility,
            }
        )
        walk = RandomWalk(contract, seed=1)
        moment = datetime(2024, 1, 2, tzinfo=UTC)
        quotes = [walk.step(moment) for _ in range(500)]
        assert all(q.last % D("0.01") == 0 for q in quotes)
        return [abs(b.last - a.last) for a, b in itertools.pairwise(quotes)]

    calm, wild = steps("0.00001"), steps("0.001")
    assert min(calm) > 0
    assert min(wild) > 0
    assert sum(wild) > 20 * sum(calm)  # 100x the deviation


async def test_the_published_tick_carries_the_depth(
    engine: RedFireVnPyEngine, recorder: Recorder
) -> None:
    paper = engine.paper_gateway(IF)
    deep_if_tick(paper)
    await recorder.settle()
    snapshot = engine.get_tick(IF)
    assert snapshot is not None
    payload = tick_payload(snapshot)  # what the WebSocket sends and the shared cache keeps
    assert payload == TickRead.model_validate(snapshot).model_dump(mode="json")
    assert (payload["ask_price_3"], payload["ask_volume_3"]) == ("3500.6", "5")
    assert (payload["bid_price_2"], payload["bid_volume_2"]) == ("3499.8", "6")
    assert (payload["bid_price_3"], payload["ask_price_4"]) == ("0", "0")

    paper.inject_tick(IF, last_price=D("3500.0"))  # level 1 only: the depth is gone
    await recorder.settle()
    later = engine.get_tick(IF)
    assert later is not None
    assert {tick_payload(later)[field] for field in DEPTH_FIELDS} == {"0"}
    too_deep = [(D("3500.4") + D("0.2") * i, D(1)) for i in range(DEPTH_LEVELS)]
    with pytest.raises(ValueError, match="at most 5 levels"):
        paper.inject_tick(IF, last_price=D("3500.0"), ask_depth=too_deep)
