"""vnpy CTA strategies under the strategy engine: stop orders, warm-up from stored bars, a
raising on_bar, and `pos` kept over a failover to another replica (memory and Redis leases)."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from vnpy.trader.object import BarData, TickData
from vnpy_ctastrategy import BarGenerator, CtaTemplate, StopOrder

from backend.app.container import AppContainer
from backend.domain.market import ContractInfo, TickSnapshot
from backend.models.enums import OrderSide, OrderType, StrategyStatus
from backend.services.cta.classes import cta_entry
from backend.services.cta.host import CtaLiveServices, CtaStrategyHost
from backend.services.cta.state import CtaVariableStore
from backend.services.market.bar import Bar
from backend.services.strategy.engine import StrategyEngine
from backend.services.strategy.lease import LeaseStore
from backend.services.strategy.registry import StrategyRegistry
from tests.services.strategy.conftest import MakeEngine, MakeStrategy, stored
from tests.services.strategy.support import (
    SYMBOL,
    RecordingOrderGateway,
    TickCounter,
    fill,
    tick,
    wait_for,
)
from tests.services.strategy.test_lease import INTERVAL, LEASE, kill

WARM = "warm2601.SHFE"
COLD = "cold2601.SHFE"


class BarCounter(CtaTemplate):
    """Counts bars (warm-up and live); raises in a live on_bar when told to."""

    explode_on_bar: bool = False
    warm_days: int = 0
    bars_seen: int = 0
    parameters = ["explode_on_bar", "warm_days"]  # noqa: RUF012
    variables = ["bars_seen"]  # noqa: RUF012

    def on_init(self) -> None:
        self.bg = BarGenerator(self.on_bar)
        if self.warm_days:
            self.load_bar(self.warm_days)

    def on_tick(self, tick: TickData) -> None:
        self.bg.update_tick(tick)

    def on_bar(self, bar: BarData) -> None:
        self.bars_seen += 1
        if self.explode_on_bar and self.trading:
            raise ValueError("no signal for this bar")


class StopProbe(CtaTemplate):
    """Places one buy stop 2.0 above the first tick; remembers what became of it."""

    stop_status: str = ""
    parameters: list[str] = []  # noqa: RUF012
    variables = ["stop_status"]  # noqa: RUF012

    def on_init(self) -> None:
        self.sent = False

    def on_tick(self, tick: TickData) -> None:
        if not self.sent:
            self.sent = True
            self.buy(tick.last_price + 2, 1, stop=True)

    def on_stop_order(self, stop_order: StopOrder) -> None:
        self.stop_status = stop_order.status.name


class PosKeeper(CtaTemplate):
    """Counts its trades."""

    trades: int = 0
    parameters: list[str] = []  # noqa: RUF012
    variables = ["trades"]  # noqa: RUF012

    def on_init(self) -> None:
        pass

    def on_trade(self, trade: object) -> None:
        self.trades += 1


def cta_registry() -> StrategyRegistry:
    registry = StrategyRegistry(
        entries=[cta_entry(cls, "test") for cls in (BarCounter, StopProbe, PosKeeper, CancelProbe)]
    )
    registry.register(TickCounter)
    return registry


def services(container: AppContainer) -> CtaLiveServices:
    """The app's contracts plus two more (one with stored bars, one without)."""
    market = container.trading.market
    base = market.get_contract("rb2501.SHFE")
    assert base is not None
    extra = {
        symbol: replace(base, symbol=symbol, code=symbol.split(".")[0]) for symbol in (WARM, COLD)
    }

    def contracts(symbol: str) -> ContractInfo | None:
        return extra.get(symbol) or market.get_contract(symbol)

    return CtaLiveServices(
        contracts=contracts,
        variables=CtaVariableStore(container.database),
        history=container.history.history,
    )


def at_minute(price: str, minute: int, symbol: str = SYMBOL) -> TickSnapshot:
    start = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    return replace(tick(price, symbol), datetime=start + timedelta(minutes=minute))


def host(engine: StrategyEngine, strategy_id: int) -> CtaStrategyHost:
    strategy = engine.runners[strategy_id].strategy
    assert isinstance(strategy, CtaStrategyHost)
    return strategy


def cta_engine(make_engine: MakeEngine, container: AppContainer, *args: object,
               **kwargs: object) -> StrategyEngine:  # fmt: skip
    return make_engine(*args, registry=cta_registry(), cta=services(container).host, **kwargs)


async def test_a_local_stop_order_triggers_on_ticks_as_vnpys_engine(
    make_engine: MakeEngine,
    make_strategy: MakeStrategy,
    container: AppContainer,
    orders: RecordingOrderGateway,
) -> None:
    engine = cta_engine(make_engine, container)
    strategy_id = await make_strategy("StopProbe")
    await engine.start()
    for price in ("3500.0", "3501.8", "3502.2"):
        await engine.on_tick(tick(price))
        await engine.flush()
    # 3501.8 is below the stop at 3502.0; 3502.2 triggers a limit buy at the ask.
    assert [(call.strategy_id, call.side, call.order_type, call.price, call.quantity)
            for call in orders.placed] == [
        (strategy_id, OrderSide.BUY, OrderType.LIMIT, Decimal("3502.2"), Decimal(1))
    ]  # fmt: skip
    assert host(engine, strategy_id).cta.stop_status == "TRIGGERED"


async def test_warm_up_reads_stored_bars_and_no_history_is_a_clear_error(
    make_engine: MakeEngine, make_strategy: MakeStrategy, container: AppContainer
) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    price = Decimal(3300)
    bars = [
        Bar(WARM, "1m", now - timedelta(minutes=minutes), price, price, price, price)
        for minutes in range(1, 31)
    ]
    await container.history.store.write_bars(bars)
    engine = cta_engine(make_engine, container)
    warm = await make_strategy("BarCounter", symbol=WARM, parameters={"warm_days": 1})
    cold = await make_strategy("BarCounter", symbol=COLD, parameters={"warm_days": 3})
    await engine.start()
    assert host(engine, warm).cta.bars_seen == 30
    assert cold not in engine.runners
    row = await stored(container, cold)
    assert row.status is StrategyStatus.ERROR
    assert row.last_error == (
        f"load_bar(3) found no stored 1m bars of {COLD} in the last 3 days to warm up on: "
        "record or import bars first"
    )


async def test_a_raising_on_bar_errors_only_its_strategy(
    make_engine: MakeEngine, make_strategy: MakeStrategy, container: AppContainer
) -> None:
    engine = cta_engine(make_engine, container)
    fragile = await make_strategy("BarCounter", parameters={"explode_on_bar": True})
    steady = await make_strategy("BarCounter")
    counter = await make_strategy("TickCounter")
    await engine.start()
    for minute in range(3):  # the second minute's first tick completes the first bar
        await engine.on_tick(at_minute("3500.0", minute))
        await engine.flush()
    await wait_for(lambda: fragile not in engine.runners)
    await engine.reconcile()
    row = await stored(container, fragile)
    assert row.status is StrategyStatus.ERROR
    assert row.last_error == "BarCounter.on_bar raised ValueError: no signal for this bar"
    assert host(engine, steady).cta.bars_seen == 2
    await engine.on_tick(at_minute("3500.0", 3))
    await engine.flush()
    assert engine.runners[counter].ticks_processed == 4
    assert host(engine, steady).cta.bars_seen == 3


async def test_pos_and_variables_move_to_the_replica_that_takes_over(
    shared_leases: LeaseStore,
    make_engine: MakeEngine,
    make_strategy: MakeStrategy,
    container: AppContainer,
) -> None:
    timing = {"lease_seconds": LEASE, "renew_interval_seconds": INTERVAL}
    first = cta_engine(make_engine, container, "replica-a", leases=shared_leases, **timing)
    second = cta_engine(make_engine, container, "replica-b", leases=shared_leases, **timing)
    strategy_id = await make_strategy("PosKeeper")
    await first.start()
    await second.start()
    assert list(first.runners) == [strategy_id]
    await first.on_trade(fill(OrderSide.BUY, "3", order_id=7), strategy_id=strategy_id)
    await first.on_trade(fill(OrderSide.SELL, "1", order_id=8), strategy_id=strategy_id)
    await first.flush()
    assert host(first, strategy_id).cta.pos == 2

    kill(first)
    died = time.monotonic()
    await wait_for(lambda: strategy_id in second.runners, within=LEASE + 10 * INTERVAL)
    assert time.monotonic() - died < LEASE + 3 * INTERVAL + 0.5
    taken_over = host(second, strategy_id).cta
    assert (taken_over.pos, taken_over.trades, taken_over.inited, taken_over.trading) == (
        2, 2, True, True
    )  # fmt: skip
    assert (await stored(container, strategy_id)).variables == {"pos": 2.0, "trades": 2}


class CancelProbe(CtaTemplate):
    """First tick: a limit buy far below and a sell stop; second tick: cancel_all."""

    stop_status: str = ""
    parameters: list[str] = []  # noqa: RUF012
    variables = ["stop_status"]  # noqa: RUF012

    def on_init(self) -> None:
        self.ticks = 0

    def on_tick(self, tick: TickData) -> None:
        self.ticks += 1
        if self.ticks == 1:
            self.buy(tick.last_price - 100, 2)
            self.sell(tick.last_price - 50, 1, stop=True)
        elif self.ticks == 2:
            self.cancel_all()

    def on_stop_order(self, stop_order: StopOrder) -> None:
        self.stop_status = stop_order.status.name


async def test_cancel_all_cancels_limit_orders_through_the_order_path_and_stops_locally(
    make_engine: MakeEngine,
    make_strategy: MakeStrategy,
    container: AppContainer,
    orders: RecordingOrderGateway,
) -> None:
    engine = cta_engine(make_engine, container)
    strategy_id = await make_strategy("CancelProbe")
    await engine.start()
    await engine.on_tick(tick("3500.0"))
    await engine.flush()
    [placed] = orders.placed
    assert (placed.strategy_id, placed.side, placed.price, placed.quantity) == (
        strategy_id, OrderSide.BUY, Decimal("3400.0"), Decimal(2)
    )  # fmt: skip
    assert host(engine, strategy_id).cta.stop_status == "WAITING"
    await engine.on_tick(tick("3500.0"))
    await engine.flush()
    assert orders.cancelled == [placed.order_id]
    assert host(engine, strategy_id).cta.stop_status == "CANCELLED"
    await engine.on_tick(tick("3440.0"))  # below the cancelled stop: nothing happens
    await engine.flush()
    assert len(orders.placed) == 1
