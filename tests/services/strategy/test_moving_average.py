"""MovingAverageStrategy: crossovers become orders on the port, the position follows fills."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from backend.models.enums import OrderSide, OrderStatus, OrderType
from backend.services.strategy.moving_average import (
    MovingAverageParameters,
    MovingAverageStrategy,
)
from backend.services.strategy.registry import (
    InvalidStrategyParametersError,
    UnknownStrategyClassError,
    default_registry,
)
from tests.services.strategy.support import SYMBOL, RecordingOrderGateway, fill, tick

# fast=2, slow=3, warm-up 4: the 6th price is a golden cross, the 8th a death cross.
GOLDEN_AT_6 = ["10", "10", "10", "10", "9", "12"]
DEATH_AFTER = ["12", "8"]


async def started(orders: RecordingOrderGateway, **parameters: Any) -> MovingAverageStrategy:
    """A running strategy with id 7 for user 3."""
    config = MovingAverageParameters(
        **{"fast_window": 2, "slow_window": 3, "warmup_ticks": 4, **parameters}
    )
    strategy = MovingAverageStrategy(7, config, user_id=3, symbol=SYMBOL, orders=orders)
    await strategy.initialize()
    await strategy.start()
    return strategy


async def feed(strategy: MovingAverageStrategy, prices: list[str]) -> None:
    """One tick per price."""
    for price in prices:
        await strategy.on_tick(tick(price))


async def test_golden_cross_from_flat_buys_the_fixed_size(orders: RecordingOrderGateway) -> None:
    strategy = await started(orders, fixed_size="2.5")
    await feed(strategy, GOLDEN_AT_6[:-1])
    assert orders.placed == []
    await feed(strategy, GOLDEN_AT_6[-1:])
    [order] = orders.placed
    assert (order.user_id, order.strategy_id, order.symbol) == (3, 7, SYMBOL)
    assert (order.side, order.order_type) == (OrderSide.BUY, OrderType.MARKET)
    assert order.quantity == Decimal("2.5")
    assert order.price is None
    assert strategy.orders_placed == 1
    assert strategy.open_orders == {order.order_id}


async def test_death_cross_from_long_closes_then_opens_short(
    orders: RecordingOrderGateway,
) -> None:
    strategy = await started(orders)
    await feed(strategy, GOLDEN_AT_6)
    strategy.apply_fill(fill(OrderSide.BUY, "1"))
    assert strategy.position == Decimal(1)
    await feed(strategy, DEATH_AFTER)
    sides = [(order.side, order.quantity) for order in orders.placed]
    assert sides == [
        (OrderSide.BUY, Decimal(1)),
        (OrderSide.SELL, Decimal(1)),
        (OrderSide.SELL, Decimal(1)),
    ]
    # vnpy cancels what is still open before reacting to a signal.
    assert orders.cancelled == [1]


async def test_golden_cross_from_short_covers_then_buys(orders: RecordingOrderGateway) -> None:
    orders.positions[7] = Decimal(-3)
    strategy = await started(orders)
    assert strategy.position == Decimal(-3)
    await feed(strategy, GOLDEN_AT_6)
    assert [(o.side, o.quantity) for o in orders.placed] == [
        (OrderSide.BUY, Decimal(3)),
        (OrderSide.BUY, Decimal(1)),
    ]


async def test_already_long_ignores_another_golden_cross(orders: RecordingOrderGateway) -> None:
    orders.positions[7] = Decimal(1)
    strategy = await started(orders)
    await feed(strategy, GOLDEN_AT_6)
    assert orders.placed == []


async def test_limit_orders_use_the_last_price(orders: RecordingOrderGateway) -> None:
    strategy = await started(orders, order_type="limit")
    await feed(strategy, GOLDEN_AT_6)
    [order] = orders.placed
    assert (order.order_type, order.price) == (OrderType.LIMIT, Decimal(12))


async def test_rejected_orders_are_not_kept_open(orders: RecordingOrderGateway) -> None:
    orders.status = OrderStatus.REJECTED
    strategy = await started(orders)
    await feed(strategy, GOLDEN_AT_6)
    assert strategy.orders_placed == 1
    assert strategy.open_orders == set()


async def test_no_orders_while_not_running(orders: RecordingOrderGateway) -> None:
    strategy = await started(orders)
    await strategy.stop()
    await feed(strategy, GOLDEN_AT_6)
    assert orders.placed == []
    assert strategy.averages.count == 6


async def test_position_follows_fills_both_ways(orders: RecordingOrderGateway) -> None:
    strategy = await started(orders)
    strategy.apply_fill(fill(OrderSide.BUY, "1.5"))
    strategy.apply_fill(fill(OrderSide.SELL, "4"))
    assert strategy.position == Decimal("-2.5")


async def test_calculate_ma_and_status(orders: RecordingOrderGateway) -> None:
    strategy = await started(orders)
    await feed(strategy, ["1", "2", "4"])
    assert strategy.calculate_ma(2) == Decimal(3)
    assert strategy.calculate_ma(3) == Decimal(7) / 3
    status = await strategy.get_status()
    assert status["running"] is True
    assert status["config"]["fast_window"] == 2
    assert status["indicators"]["fast_ma"] == Decimal(3)


@pytest.mark.parametrize(
    "parameters",
    [
        {"fast_window": 5, "slow_window": 5},
        {"fast_window": 0},
        {"fixed_size": "0"},
        {"fixed_size": "NaN"},
        {"fixed_size": "0.000000001"},
        {"slow_window": 120},
        {"order_type": "stop"},
        {"unknown": 1},
    ],
)
def test_bad_parameters_are_refused(parameters: dict[str, Any]) -> None:
    with pytest.raises(InvalidStrategyParametersError) as raised:
        default_registry().validate("MovingAverageStrategy", parameters)
    assert raised.value.status_code == 422


def test_registry_lists_schema_and_refuses_unknown_classes() -> None:
    registry = default_registry()
    [info] = [entry for entry in registry.describe() if entry.kind == "redfire"]
    assert info.class_name == "MovingAverageStrategy"
    assert set(info.parameters["properties"]) >= {"fast_window", "slow_window", "fixed_size"}
    stored = registry.normalize("MovingAverageStrategy", {"fixed_size": 3})
    assert stored["fixed_size"] == "3"
    assert stored["warmup_ticks"] == 100
    with pytest.raises(UnknownStrategyClassError):
        registry.get("os.system")
