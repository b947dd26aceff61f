"""One PAPER market for several replicas: the lease holder walks it, every book matches on it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from backend.core.config.sections import RedisConfig
from backend.core.messaging import create_messaging
from backend.core.monitoring.metrics import PAPER_MARKET_LEADER
from backend.domain.market import OrderTicket, OrderUpdate, TradeFill
from backend.models.enums import OrderSide, OrderType
from backend.schemas.market import TickRead
from backend.services.market.paper_feed import PaperFeed, inject
from backend.services.stream.publisher import tick_cache_key
from backend.services.vnpy.engine import RedFireVnPyEngine, vnpy_engine_from_config
from backend.services.vnpy.types import BridgeEvent
from tests.reliability.support import wait_until
from tests.services.vnpy.conftest import IF, RB, paper_config

REDIS_URL = os.environ.get("TEST_REDIS_URL")
pytestmark = pytest.mark.skipif(REDIS_URL is None, reason="needs TEST_REDIS_URL")


class Replica:
    """A vnpy engine on PAPER with its feed, as one replica runs them."""

    def __init__(self, name: str, prefix: str) -> None:
        assert REDIS_URL is not None
        self.messaging = create_messaging(RedisConfig(url=REDIS_URL, key_prefix=prefix))
        self.cache = self.messaging.cache
        config = paper_config()
        self.engine: RedFireVnPyEngine = vnpy_engine_from_config(config, shared_paper_market=True)
        # Stepped by the test (no walk of its own: interval 0).
        self.feed = PaperFeed(self.messaging, market=self.engine, replica=name, interval=0)
        self.orders: list[OrderUpdate] = []

    async def start(self) -> None:
        async def record(update: OrderUpdate) -> None:
            self.orders.append(update)

        self.engine.bridge.subscribe(BridgeEvent.ORDER, record)
        await self.engine.start()
        await self.feed.start()
        await wait_until(self._listening, within=5, what="the feed listens")

    async def _listening(self) -> bool:
        return self.feed.listening.is_set()

    async def stop(self) -> None:
        await self.feed.stop()
        await self.engine.stop()
        await self.messaging.close()

    def last(self, symbol: str) -> Decimal | None:
        tick = self.engine.get_tick(symbol)
        return None if tick is None else tick.last_price


@pytest.fixture
def prefix(redis_prefix: str) -> str:
    return f"{redis_prefix}paper-feed-{os.urandom(4).hex()}:"


@pytest.fixture
async def replicas(prefix: str) -> AsyncIterator[tuple[Replica, Replica]]:
    a, b = Replica("replica-a", prefix), Replica("replica-b", prefix)
    await a.start()
    await b.start()
    try:
        yield a, b
    finally:
        await a.stop()
        await b.stop()


async def test_a_new_market_opens_at_the_configured_prices(
    replicas: tuple[Replica, Replica],
) -> None:
    for replica in replicas:  # nothing saved yet: each announces its start-up quotes
        assert replica.last(IF) == Decimal("3500.0")
        assert replica.last(RB) == Decimal(3300)


async def test_the_leader_walks_and_the_others_quote_its_prices(
    replicas: tuple[Replica, Replica],
) -> None:
    a, b = replicas
    walked = {tick.symbol: tick for tick in await a.feed.step()}
    assert {IF, RB} <= set(walked)
    assert PAPER_MARKET_LEADER._value.get() == 1
    assert await b.feed.step() == []  # one leader: b injects, it does not walk

    async def caught_up() -> bool:
        return all(b.last(symbol) == tick.last_price for symbol, tick in walked.items())

    await wait_until(caught_up, within=5, what="b quotes a's prices")
    snapshot = b.engine.get_tick(IF)
    assert snapshot is not None
    assert snapshot.datetime == walked[IF].datetime

    # The leader stops: its lease goes with it, and b walks on from the last price.
    await a.feed.stop()
    continued = {tick.symbol: tick for tick in await b.feed.step()}
    step = abs(continued[IF].last_price - walked[IF].last_price)
    # One step of IF's walk: a whole number of ticks, never none (0.2 % of 3500 ~ 3.5 ticks).
    assert Decimal(0) < step <= Decimal("0.2") * 30
    assert step % Decimal("0.2") == 0
    assert continued[IF].volume >= walked[IF].volume  # the day's volume does not restart


async def test_the_others_quote_and_fill_on_the_leader_s_depth(
    replicas: tuple[Replica, Replica],
) -> None:
    a, b = replicas
    fills: list[TradeFill] = []

    async def record(fill: TradeFill) -> None:
        fills.append(fill)

    b.engine.bridge.subscribe(BridgeEvent.TRADE, record)
    walked = {tick.symbol: tick for tick in await a.feed.step()}
    tick = walked[IF]
    assert tick.ask_price_5 == tick.ask_price_1 + Decimal("0.2") * 4  # five levels a side
    assert tick.bid_price_5 == tick.bid_price_1 - Decimal("0.2") * 4

    async def caught_up() -> bool:
        return b.last(IF) == tick.last_price

    await wait_until(caught_up, within=5, what="b quotes a's prices")
    snapshot = b.engine.get_tick(IF)
    assert snapshot is not None
    assert TickRead.model_validate(snapshot) == tick  # the depth too
    wanted = tick.ask_volume_1 + tick.ask_volume_2
    order = b.engine.send_order(OrderTicket(IF, OrderSide.BUY, OrderType.MARKET, wanted))

    async def filled() -> bool:
        return any(u.vt_orderid == order and u.status.is_final for u in b.orders)

    await wait_until(filled, within=5, what="b's market order fills")
    assert [(f.price, f.quantity) for f in fills if f.vt_orderid == order] == [
        (tick.ask_price_1, tick.ask_volume_1),
        (tick.ask_price_2, tick.ask_volume_2),
    ]


async def test_an_injected_tick_fills_resting_orders_on_every_replica(
    replicas: tuple[Replica, Replica],
) -> None:
    a, b = replicas
    resting = b.engine.send_order(
        OrderTicket(IF, OrderSide.BUY, OrderType.LIMIT, Decimal(1), Decimal("3400"))
    )
    crossing = TickRead(
        symbol=IF,
        last_price=Decimal("3399.0"),
        bid_price_1=Decimal("3398.8"),
        ask_price_1=Decimal("3399.0"),
        bid_volume_1=Decimal(5),
        ask_volume_1=Decimal(5),
        volume=Decimal(100),
        datetime=datetime.now(UTC),
    )
    inject(a.engine, crossing)  # what POST /api/v1/market/ticks does on the replica it reached
    await a.feed.publish([crossing])

    async def filled() -> bool:
        return any(u.vt_orderid == resting and u.status.is_final for u in b.orders)

    await wait_until(filled, within=5, what="b's resting order fills on a's injected tick")
    assert b.last(IF) == Decimal("3399.0")


async def test_a_replica_that_starts_later_quotes_the_market_not_its_start_up_prices(
    replicas: tuple[Replica, Replica], prefix: str
) -> None:
    """A new pod of a rolling update must not fill orders on the configured initial prices."""
    a, _ = replicas
    for _ in range(3):
        walked = {tick.symbol: tick for tick in await a.feed.step()}
    for tick in walked.values():  # what every replica's stream publisher saves
        await a.cache.set(tick_cache_key(tick.symbol), tick.model_dump(mode="json"))
    late = Replica("replica-c", prefix)
    await late.start()
    try:
        assert late.last(IF) == walked[IF].last_price
        assert late.last(RB) == walked[RB].last_price
        snapshot = late.engine.get_tick(IF)
        assert snapshot is not None
        assert snapshot.datetime == walked[IF].datetime
    finally:
        await late.stop()
