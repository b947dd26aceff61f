"""The per-tick fast paths give exactly what the plain constructors give."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from vnpy.event import Event
from vnpy.trader.constant import Exchange, Status
from vnpy.trader.event import EVENT_ORDER, EVENT_TICK, EVENT_TRADE
from vnpy.trader.object import TickData

from backend.domain.market import OrderTicket, TickSnapshot
from backend.models.enums import OrderSide, OrderType
from backend.services.vnpy.bridge import EventBridge
from backend.services.vnpy.conversions import to_decimal, to_tick_snapshot
from backend.services.vnpy.engine import RedFireVnPyEngine
from backend.services.vnpy.event_engine import RedFireEventEngine
from backend.services.vnpy.paper_market import PaperContract, Quote, TickBuilder
from backend.services.vnpy.types import BridgeEvent

from .conftest import IF, WAIT

D = Decimal
MOMENT = datetime(2024, 12, 2, 1, 30, tzinfo=UTC)
CONTRACT = PaperContract(
    symbol="IF2412",
    exchange=Exchange.CFFEX,
    name="CSI 300 2412",
    price_tick=D("0.2"),
    size=D(300),
    min_volume=D(1),
    initial_price=D(3500),
)


def plain_tick_data(quote: Quote) -> TickData:
    return TickData(
        gateway_name="PAPER",
        symbol=CONTRACT.symbol,
        exchange=CONTRACT.exchange,
        datetime=quote.moment,
        name=CONTRACT.name,
        volume=float(quote.volume),
        last_price=float(quote.last),
        bid_price_1=float(quote.bid),
        ask_price_1=float(quote.ask),
        bid_volume_1=float(quote.bid_volume),
        ask_volume_1=float(quote.ask_volume),
    )


def test_tick_builder_makes_the_tick_data_the_constructor_makes() -> None:
    build = TickBuilder(CONTRACT, "PAPER")
    ten, volume = D(10), D(120)
    quotes = [
        Quote(D("3500.2"), D("3500.2"), D("3500.4"), ten, ten, volume, MOMENT),
        Quote(D("3500.4"), D("3500.2"), D("3500.6"), ten, D(7), volume, MOMENT),  # reused
        Quote(D("3499.8"), D("3499.6"), D("3500.0"), D(3), D(4), D(121), MOMENT),  # all new
    ]
    ticks = [build(quote) for quote in quotes]
    for quote, tick in zip(quotes, ticks, strict=True):
        expected = plain_tick_data(quote)
        assert tick == expected
        assert vars(tick) == vars(expected)  # vt_symbol and every default field too
    assert len({id(tick) for tick in ticks}) == 3  # vnpy keeps references: never reused


def test_tick_snapshot_fast_path_matches_the_dataclass() -> None:
    tick = TickData(
        gateway_name="PAPER",
        symbol="IF2412",
        exchange=Exchange.CFFEX,
        datetime=MOMENT,
        volume=0.0,
        last_price=3500.2,
        bid_price_1=3500.2,
        ask_price_1=3500.4,
        bid_volume_1=10.0,
        ask_volume_1=300.0,
        turnover=1234.5,
        open_interest=88.0,
    )
    snapshot = to_tick_snapshot(tick)
    assert type(snapshot) is TickSnapshot
    assert snapshot == TickSnapshot(
        symbol=IF,
        gateway="PAPER",
        last_price=D("3500.2"),
        bid_price_1=D("3500.2"),
        ask_price_1=D("3500.4"),
        bid_volume_1=D(10),
        ask_volume_1=D(300),
        volume=D(0),
        datetime=MOMENT,
        turnover=D("1234.5"),
        open_interest=D(88),
    )
    assert all(isinstance(getattr(snapshot, f), Decimal) for f in ("volume", "last_price"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.last_price = D(1)  # type: ignore[misc]


@pytest.mark.parametrize(
    "moment",
    [MOMENT.replace(tzinfo=None), MOMENT.astimezone(timezone(timedelta(hours=8)))],
)
def test_tick_snapshot_is_in_utc(moment: datetime) -> None:
    tick = TickData(gateway_name="X", symbol="a", exchange=Exchange.SSE, datetime=moment)
    stamp = to_tick_snapshot(tick).datetime
    assert stamp == MOMENT
    assert stamp.tzinfo is UTC


def test_non_finite_prices_are_zero() -> None:
    tick = TickData(
        gateway_name="X",
        symbol="a",
        exchange=Exchange.SSE,
        datetime=MOMENT,
        last_price=float("nan"),
        ask_price_1=float("inf"),
    )
    snapshot = to_tick_snapshot(tick)
    assert (snapshot.last_price, snapshot.ask_price_1) == (D(0), D(0))
    assert to_decimal(300.0) == D(300)


async def test_per_symbol_tick_events_reach_their_handlers(engine: RedFireVnPyEngine) -> None:
    """PAPER skips vnpy's per-symbol tick event only while no handler listens for it."""
    event_engine = engine.paper_gateway().event_engine
    assert isinstance(event_engine, RedFireEventEngine)
    assert not event_engine.wants(EVENT_TICK + IF)
    seen: list[float] = []

    def on_symbol_tick(event: Event) -> None:
        seen.append(event.data.last_price)

    event_engine.register(EVENT_TICK + IF, on_symbol_tick)
    try:
        assert event_engine.wants(EVENT_TICK + IF)
        engine.paper_gateway().inject_tick(IF, last_price=D("3600.2"))
        async with asyncio.timeout(WAIT):
            await engine.flush()
        assert seen == [3600.2]
    finally:
        event_engine.unregister(EVENT_TICK + IF, on_symbol_tick)


async def test_per_order_and_per_symbol_trade_events_reach_their_handlers(
    engine: RedFireVnPyEngine,
) -> None:
    """PAPER skips vnpy's per-order and per-symbol trade events only while nobody listens."""
    event_engine = engine.paper_gateway().event_engine
    assert isinstance(event_engine, RedFireEventEngine)
    resting = engine.send_order(
        OrderTicket(IF, OrderSide.BUY, OrderType.LIMIT, Decimal(1), Decimal(3000))
    )
    assert not event_engine.wants(EVENT_ORDER + resting)
    assert not event_engine.wants(EVENT_TRADE + IF)
    orders: list[Status] = []
    traded: list[float] = []

    def on_order(event: Event) -> None:
        orders.append(event.data.status)

    def on_trade(event: Event) -> None:
        traded.append(event.data.volume)

    event_engine.register(EVENT_ORDER + resting, on_order)
    event_engine.register(EVENT_TRADE + IF, on_trade)
    try:
        engine.cancel_order(resting)
        engine.send_order(OrderTicket(IF, OrderSide.BUY, OrderType.MARKET, Decimal(2)))
        async with asyncio.timeout(WAIT):
            await engine.flush()
        # The resting order's own event (its cancel), nothing of the market order's; the
        # market order's fills reach the per-symbol handler.
        assert orders == [Status.CANCELLED]
        assert sum(traded) == 2.0
    finally:
        event_engine.unregister(EVENT_ORDER + resting, on_order)
        event_engine.unregister(EVENT_TRADE + IF, on_trade)


async def test_ticks_reach_subscribers_in_order_with_decimal_prices(
    engine: RedFireVnPyEngine,
) -> None:
    received: list[TickSnapshot] = []

    async def on_tick(tick: TickSnapshot) -> None:
        received.append(tick)

    engine.bridge.subscribe(BridgeEvent.TICK, on_tick)
    prices = [D("3500.2") + D("0.2") * n for n in range(300)]
    for price in prices:
        engine.paper_gateway().inject_tick(IF, last_price=price)
    async with asyncio.timeout(WAIT):
        await engine.flush()
    assert [t.last_price for t in received if t.symbol == IF] == prices
    assert [t.ask_price_1 for t in received[-2:]] == [p + D("0.2") for p in prices[-2:]]
    latest = engine.get_tick(IF)
    assert latest is not None
    assert latest.last_price == prices[-1]


async def test_a_drain_hook_runs_after_each_batch(engine: RedFireVnPyEngine) -> None:
    calls: list[int] = []
    engine.bridge.on_drain(lambda: calls.append(engine.bridge.delivered))
    engine.paper_gateway().inject_tick(IF, last_price=D("3600"))
    async with asyncio.timeout(WAIT):
        await engine.flush()
    assert calls
    assert calls[-1] == engine.bridge.delivered


async def test_ticks_are_delivered_without_a_flush(event_engine: RedFireEventEngine) -> None:
    """Ticks wake the loop once vnpy's thread runs out of events (its idle hook)."""
    bridge = EventBridge(maxsize=1000)
    bridge.route("eTestTick.", BridgeEvent.TICK)
    arrived: list[int] = []
    all_there = asyncio.Event()

    async def on_tick(value: int) -> None:
        arrived.append(value)
        if len(arrived) == 10:
            all_there.set()

    bridge.subscribe(BridgeEvent.TICK, on_tick)
    bridge.start(event_engine, asyncio.get_running_loop())
    try:
        for n in range(10):
            event_engine.put(Event("eTestTick.", n))
        async with asyncio.timeout(WAIT):
            await all_there.wait()
        assert arrived == list(range(10))
    finally:
        await bridge.stop()


async def test_orders_wake_the_loop_while_vnpy_is_still_busy(
    event_engine: RedFireEventEngine,
) -> None:
    """An order does not wait for vnpy's thread to idle: here it never does until it arrives."""
    bridge = EventBridge(maxsize=1000)
    bridge.route("eTestOrder.", BridgeEvent.ORDER)
    delivered = threading.Event()
    got = asyncio.Event()
    busy_until_delivered: list[bool] = []

    async def on_order(_value: int) -> None:
        delivered.set()
        got.set()

    def busy(_event: Event) -> None:  # holds vnpy's thread until the order got through
        busy_until_delivered.append(delivered.wait(WAIT))

    event_engine.register("eTestBusy", busy)
    bridge.subscribe(BridgeEvent.ORDER, on_order)
    bridge.start(event_engine, asyncio.get_running_loop())
    try:
        event_engine.put(Event("eTestOrder.", 1))
        event_engine.put(Event("eTestBusy"))
        async with asyncio.timeout(WAIT):
            await got.wait()  # while vnpy's thread is still in busy()
            await bridge.flush()  # through vnpy's queue: busy() has returned
        assert busy_until_delivered == [True]
    finally:
        await bridge.stop()
        event_engine.unregister("eTestBusy", busy)
