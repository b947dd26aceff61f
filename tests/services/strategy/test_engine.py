"""StrategyEngine: fan-out, per-strategy order, isolation of failures, resume, metrics."""

from __future__ import annotations

from decimal import Decimal

from prometheus_client import REGISTRY

from backend.app.container import AppContainer
from backend.core.cache.invalidation import Invalidations
from backend.core.messaging import MemoryLeaseStore, MemoryMessaging
from backend.models.enums import OrderSide, OrderStatus, StrategyStatus
from backend.models.strategy import Strategy
from backend.services.vnpy.types import OrderUpdate
from tests.services.strategy.conftest import MakeEngine, MakeStrategy, stored
from tests.services.strategy.support import (
    OTHER_SYMBOL,
    SYMBOL,
    OrderEveryTick,
    RecordingOrderGateway,
    TickCounter,
    fill,
    tick,
    wait_for,
)

MA = {"fast_window": 2, "slow_window": 3, "warmup_ticks": 4}


def metric(name: str, **labels: str) -> float:
    """A sample's current value (0 when absent)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_ticks_fan_out_to_every_strategy_on_the_symbol(
    make_engine: MakeEngine, make_strategy: MakeStrategy
) -> None:
    first = await make_strategy("TickCounter")
    second = await make_strategy("TickCounter")
    elsewhere = await make_strategy("TickCounter", symbol=OTHER_SYMBOL)
    await make_strategy("TickCounter", status=StrategyStatus.STOPPED)
    engine = make_engine()
    # Counters are per process and ids restart with each test's clean tables: compare deltas.
    ticks_before = metric("redfire_strategy_ticks_processed_total", strategy_id=str(first))
    await engine.start()
    assert sorted(engine.runners) == sorted([first, second, elsewhere])

    for price in range(1, 6):
        await engine.on_tick(tick(price))
    await engine.flush()

    for strategy_id in (first, second):
        strategy = engine.runners[strategy_id].strategy
        assert isinstance(strategy, TickCounter)
        assert strategy.prices == [Decimal(p) for p in range(1, 6)]
    assert isinstance(counter := engine.runners[elsewhere].strategy, TickCounter)
    assert counter.prices == []
    assert metric("redfire_active_strategies") == 3
    ticks = metric("redfire_strategy_ticks_processed_total", strategy_id=str(first))
    assert ticks - ticks_before == 5


async def test_slow_order_placement_keeps_each_strategy_in_order(
    make_engine: MakeEngine, make_strategy: MakeStrategy, orders: RecordingOrderGateway
) -> None:
    orders.delay = 0.005
    slow = await make_strategy("OrderEveryTick")
    fast = await make_strategy("TickCounter")
    engine = make_engine()
    engine.registry.register(OrderEveryTick)
    orders_before = metric("redfire_strategy_orders_total", strategy_id=str(slow))
    await engine.start()

    prices = [Decimal(p) for p in range(100, 140)]
    for price in prices:
        await engine.on_tick(tick(price))
    await engine.runners[fast].wait_idle()
    # The quick strategy has everything while the slow one is still placing orders.
    assert engine.runners[fast].strategy.prices == prices  # type: ignore[attr-defined]
    assert len(orders.placed) < len(prices)

    await engine.flush()
    assert [order.price for order in orders.placed] == prices
    assert {order.strategy_id for order in orders.placed} == {slow}
    placed = metric("redfire_strategy_orders_total", strategy_id=str(slow)) - orders_before
    assert placed == len(prices)


async def test_a_failing_strategy_is_isolated(
    container: AppContainer, make_engine: MakeEngine, make_strategy: MakeStrategy
) -> None:
    exploding = await make_strategy("ExplodingStrategy")
    healthy = await make_strategy("TickCounter")
    leases = MemoryLeaseStore()
    engine = make_engine(leases=leases)
    await engine.start()

    for price in range(1, 11):
        await engine.on_tick(tick(price))

    async def errored() -> bool:
        return (await stored(container, exploding)).status is StrategyStatus.ERROR

    await wait_for(errored)
    row = await stored(container, exploding)
    assert row.last_error == "ZeroDivisionError: boom on tick 3"
    assert exploding not in engine.runners
    assert await leases.owner_of(f"strategy:{exploding}") is None

    await engine.on_tick(tick(11))
    await engine.flush()
    counter = engine.runners[healthy].strategy
    assert counter.prices == [Decimal(p) for p in range(1, 12)]  # type: ignore[attr-defined]
    assert (await stored(container, healthy)).status is StrategyStatus.RUNNING

    # The next pass leaves the failed strategy alone.
    await engine.reconcile()
    assert exploding not in engine.runners


async def test_a_decimal_error_is_told_in_words_not_as_a_repr(
    container: AppContainer, make_engine: MakeEngine, make_strategy: MakeStrategy
) -> None:
    troubled = await make_strategy("DecimalTroubleStrategy")
    engine = make_engine()
    await engine.start()
    for price in range(1, 4):
        await engine.on_tick(tick(price))

    async def errored() -> bool:
        return (await stored(container, troubled)).status is StrategyStatus.ERROR

    await wait_for(errored)
    # It was "InvalidOperation: [<class 'decimal.DivisionUndefined'>]".
    row = await stored(container, troubled)
    assert row.last_error == "a decimal division with no defined result (0/0)"


async def test_a_strategy_that_cannot_start_is_marked_error(
    container: AppContainer, make_engine: MakeEngine, make_strategy: MakeStrategy
) -> None:
    broken = await make_strategy("BrokenInitStrategy")
    bad_parameters = await make_strategy(parameters={"fast_window": 9, "slow_window": 3})
    engine = make_engine()
    await engine.start()
    assert engine.runners == {}
    assert (await stored(container, broken)).last_error == "RuntimeError: no market data"
    row = await stored(container, bad_parameters)
    assert row.status is StrategyStatus.ERROR
    assert row.last_error is not None
    assert "InvalidStrategyParametersError" in row.last_error


async def test_moving_average_trades_through_the_engine(
    make_engine: MakeEngine, make_strategy: MakeStrategy, orders: RecordingOrderGateway
) -> None:
    strategy_id = await make_strategy(parameters=MA)
    engine = make_engine()
    await engine.start()
    for price in ["10", "10", "10", "10", "9", "12"]:
        await engine.on_tick(tick(price))
    await engine.flush()
    [order] = orders.placed
    assert (order.strategy_id, order.side, order.quantity) == (strategy_id, OrderSide.BUY, 1)

    update = OrderUpdate(
        vt_orderid="PAPER.1", symbol=SYMBOL, gateway="PAPER", side=OrderSide.BUY,
        order_type=None, status=OrderStatus.FILLED, quantity=Decimal(1), traded=Decimal(1),
        price=None, reference="", reject_reason=None, update_time=None,
    )  # fmt: skip
    await engine.on_trade(fill(OrderSide.BUY, "1"), strategy_id=strategy_id)
    await engine.on_order(update, strategy_id=strategy_id, order_id=order.order_id)
    await engine.flush()
    status = await engine.get_strategy_status(strategy_id)
    assert status is not None
    assert status["position"] == "1.00000000"
    assert status["orders_placed"] == 1
    assert status["ticks_processed"] == 6
    assert status["owner"] == "replica-a"
    assert engine.runners[strategy_id].strategy.open_orders == set()


async def test_restart_resumes_running_strategies(
    make_engine: MakeEngine, make_strategy: MakeStrategy, orders: RecordingOrderGateway
) -> None:
    running = await make_strategy(parameters=MA)
    await make_strategy(parameters=MA, status=StrategyStatus.STOPPED)
    leases = MemoryLeaseStore()
    first = make_engine(leases=leases)
    await first.start()
    assert list(first.runners) == [running]
    await first.stop()
    assert first.runners == {}
    assert await leases.owner_of(f"strategy:{running}") is None

    orders.positions[running] = Decimal(1)
    second = make_engine("replica-b", leases=leases)
    await second.start()
    assert list(second.runners) == [running]
    assert second.runners[running].strategy.position == Decimal(1)


async def test_counters_and_position_are_kept_and_go_on_on_another_replica(
    container: AppContainer,
    make_engine: MakeEngine,
    make_strategy: MakeStrategy,
    orders: RecordingOrderGateway,
) -> None:
    strategy_id = await make_strategy(parameters=MA)
    leases = MemoryLeaseStore()
    first = make_engine(leases=leases)
    await first.start()
    for price in ["10", "10", "10", "10", "9", "12"]:
        await first.on_tick(tick(price))
    await first.on_trade(fill(OrderSide.BUY, "1"), strategy_id=strategy_id)
    await first.flush()

    await first.reconcile()  # each pass keeps what changed with the strategy
    row = await stored(container, strategy_id)
    assert (row.ticks_processed, row.orders_placed, row.position) == (6, 1, Decimal(1))
    assert row.last_update is not None
    await first.stop()  # a shutdown: another replica takes over

    orders.positions[strategy_id] = Decimal(1)
    second = make_engine("replica-b", leases=leases)
    await second.start()
    await second.on_tick(tick("12"))
    await second.flush()
    status = await second.get_strategy_status(strategy_id)
    assert status is not None
    assert (status["ticks_processed"], status["orders_placed"], status["position"]) == (
        7, 1, "1.00000000",
    )  # fmt: skip


async def test_without_resume_orphans_are_stopped(
    container: AppContainer, make_engine: MakeEngine, make_strategy: MakeStrategy
) -> None:
    orphan = await make_strategy("TickCounter")
    engine = make_engine(resume_on_start=False)
    await engine.start()
    assert engine.runners == {}
    assert (await stored(container, orphan)).status is StrategyStatus.STOPPED


async def test_desired_stop_is_applied_and_open_orders_cancelled(
    container: AppContainer,
    make_engine: MakeEngine,
    make_strategy: MakeStrategy,
    orders: RecordingOrderGateway,
) -> None:
    strategy_id = await make_strategy("OrderEveryTick")
    engine = make_engine()
    engine.registry.register(OrderEveryTick)
    await engine.start()
    await engine.on_tick(tick(5))
    await engine.flush()
    async with container.database.session() as session:
        row = await session.get(Strategy, strategy_id)
        assert row is not None
        row.status = StrategyStatus.STOPPED
    await engine.reconcile()
    assert engine.runners == {}
    assert orders.cancelled == [orders.placed[0].order_id]
    assert metric("redfire_active_strategies") == 0


async def test_a_stop_requested_on_another_replica_stops_the_owner_at_once(
    container: AppContainer, make_engine: MakeEngine, make_strategy: MakeStrategy
) -> None:
    """Not on the owner's next reconcile pass (an hour here): the stop notice reaches it."""
    strategy_id = await make_strategy("TickCounter")
    leases, notices = MemoryLeaseStore(), Invalidations(MemoryMessaging())
    owner = make_engine(leases=leases, notices=notices, renew_interval_seconds=3600)
    other = make_engine("replica-b", leases=leases, notices=notices, renew_interval_seconds=3600)
    await owner.start()
    await other.start()
    assert list(owner.runners) == [strategy_id]
    assert other.runners == {}
    async with container.database.session() as session:  # the API commits the desired state
        row = await session.get(Strategy, strategy_id)
        assert row is not None
        row.status = StrategyStatus.STOPPED
    await other.stop_strategy(strategy_id)
    await wait_for(lambda: not owner.runners)
    assert await leases.owner_of(f"strategy:{strategy_id}") is None
