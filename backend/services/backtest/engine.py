"""BacktestEngine: bars -> an unmodified registered strategy -> simulated fills -> statistics.

The strategy is the very class that trades live, driven through the same BaseStrategy API
(initialize, start, on_tick, on_order, on_trade, stop), with the backtest's SimulatedOrders as
its order gateway. Each bar is one tick whose last price is the close, as vnpy's
DoubleMaStrategy sees one bar per signal. Nothing here runs on an event loop: a strategy's
coroutines only await the gateway, whose methods finish at once, so each is driven with a
single `send(None)`; that keeps a million-bar replay at a few microseconds per bar.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar, cast

from prometheus_client import Counter
from pydantic import BaseModel

from backend.core.lifecycle.cpu_priority import Courtesy
from backend.core.monitoring.metrics import STRATEGY_ORDERS
from backend.domain.market import TradeFill
from backend.services.backtest.bars import BarSeries, ReplayTick, replay_ticks
from backend.services.backtest.daily import CostModel, DailyTable, daily_results
from backend.services.backtest.events import BacktestOrder, BacktestTradeFill
from backend.services.backtest.history_feed import BarChunk
from backend.services.backtest.orders import Fills, SimulatedOrders, StrategyEvent
from backend.services.backtest.statistics import (
    Curve,
    RatioSettings,
    calculate_statistics,
    equity_curve,
)
from backend.services.strategy.base import BaseStrategy
from backend.services.strategy.errors import error_message

T = TypeVar("T")
# Strategy ids are database ids (>= 1): 0 marks the backtest's throwaway instance.
BACKTEST_STRATEGY_ID = 0
# The last lines a strategy wrote with write_log, kept in memory during a backtest.
BACKTEST_LOG_LINES = 1000


class _Uncounted:
    """Stands in for the live per-strategy order counter: backtest orders are not live orders."""

    def inc(self, amount: float = 1) -> None:
        """Count nothing."""


_UNCOUNTED = cast(Counter, _Uncounted())


class BacktestCancelledError(Exception):
    """The run was told to stop (its backtest was cancelled): there is no result."""


# A cancelled run stops within this many bars (checked between segments, not per bar).
STOP_CHECK_BARS = 65_536


class StrategySuspendedError(RuntimeError):
    """The strategy awaited something other than the backtest's gateway."""


class BacktestFailedError(RuntimeError):
    """A run that could not finish; the message says where (the bar and its CSV line) and why,
    in words for the person who ran it: it is what a failed backtest's `error` shows."""

    @classmethod
    def during(cls, where: str, exc: BaseException) -> BacktestFailedError:
        """`where: what went wrong` (raise it `from exc`)."""
        return cls(f"{where}: {error_message(exc)}")


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """Everything a run produces."""

    bar_count: int
    orders_placed: int
    fills: Fills
    daily: DailyTable
    curve: Curve
    statistics: dict[str, Any]
    final_position: Decimal


SUSPENDED = "the strategy awaited something a backtest cannot provide"
_SILENT_ON_TRADE, _SILENT_ON_ORDER = BaseStrategy.on_trade, BaseStrategy.on_order


def drive(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends to its end, without an event loop."""
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return cast(T, stop.value)
    coroutine.close()
    raise StrategySuspendedError(SUSPENDED)


def run_callback(coroutine: Coroutine[Any, Any, None]) -> None:
    """`drive` for coroutines that return nothing: iterating the awaitable runs it to its end
    without the StopIteration that `send` raises; a yield means the coroutine truly
    suspended, which a backtest cannot serve."""
    for _suspended in coroutine.__await__():
        coroutine.close()
        raise StrategySuspendedError(SUSPENDED)


async def deliver_events(strategy: BaseStrategy, events: list[StrategyEvent]) -> None:
    """Hand queued order updates and fills to the strategy, as the live runner does.

    A hook the strategy leaves as BaseStrategy's (which does nothing) is not called.
    """
    on_trade, on_order = strategy.on_trade, strategy.on_order
    hears_trades = getattr(on_trade, "__func__", None) is not _SILENT_ON_TRADE
    hears_orders = getattr(on_order, "__func__", None) is not _SILENT_ON_ORDER
    while events:
        pending = events[:]
        events.clear()
        for event in pending:
            # The look-alikes have every field of the live types (see events.py).
            if type(event) is BacktestTradeFill:
                fill = cast(TradeFill, event)
                strategy.apply_fill(fill)
                if hears_trades:
                    await on_trade(fill)
            else:
                order = cast(BacktestOrder, event)
                strategy.apply_order_update(order)
                if hears_orders:
                    await on_order(order)


def deliver(strategy: BaseStrategy, events: list[StrategyEvent]) -> None:
    """`deliver_events` to its end, outside a replay."""
    run_callback(deliver_events(strategy, events))


async def _replay_ticks(
    strategy: BaseStrategy, orders: SimulatedOrders, ticks: Iterable[ReplayTick], first: int
) -> None:
    # One coroutine for the whole replay: each callback is awaited inside it, which runs it
    # to its end at the cost of a call, where driving each one from outside costs twice that.
    # A ReplayTick has every field of the TickSnapshot that on_tick is declared to take.
    on_tick = cast(Callable[[ReplayTick], Coroutine[Any, Any, None]], strategy.on_tick)
    active, events, cross = orders.active, orders.events, orders.cross
    for index, tick in enumerate(ticks, first):
        orders.bar_index = index
        if active:
            cross(index)
            if events:
                await deliver_events(strategy, events)
        await on_tick(tick)
        if events:
            await deliver_events(strategy, events)


def replay(
    strategy: BaseStrategy,
    orders: SimulatedOrders,
    bars: BarSeries,
    first: int = 0,
    should_stop: Callable[[], bool] | None = None,
) -> None:
    """Feed every bar from `first` on: fill what it crosses, deliver the fills, then show it
    to the strategy (as a ReplayTick). In segments of STOP_CHECK_BARS; before each, a research
    process yields to busier work (`Courtesy`) and `should_stop` is asked:
    BacktestCancelledError once it says so."""
    courtesy = Courtesy()
    for start in range(first, bars.bar_count, STOP_CHECK_BARS):
        courtesy.checkpoint()
        if should_stop is not None and should_stop():
            raise BacktestCancelledError
        segment = replay_ticks(bars, start, start + STOP_CHECK_BARS)
        run_callback(_replay_ticks(strategy, orders, segment, start))


class BacktestEngine:
    """Runs one strategy class with its parameters over a bar series and a cost model."""

    def __init__(self, costs: CostModel, ratios: RatioSettings | None = None) -> None:
        self.costs = costs
        self.ratios = ratios or RatioSettings()

    def run(
        self,
        strategy_class: type[BaseStrategy],
        parameters: BaseModel,
        bars: BarSeries,
        feed: Iterable[BarChunk] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> BacktestResult:
        """Replay `bars` through a fresh instance and compute vnpy's results.

        Any failure is a BacktestFailedError naming the bar (and CSV line) it happened at. With a
        `feed`, `bars` starts empty and each chunk the feed brings is appended to it and replayed
        at once, so the replay begins before the last bars have been read. `should_stop` is
        asked every STOP_CHECK_BARS bars: BacktestCancelledError once it says so.
        """
        costs = self.costs
        name = strategy_class.__name__
        orders = SimulatedOrders(bars, size=costs.size, rate=costs.rate, pricetick=costs.pricetick)
        try:
            strategy = self._instantiate(strategy_class, parameters, bars.symbol, orders)
            drive(strategy.initialize())
            drive(strategy.start())
        except Exception as exc:
            raise BacktestFailedError.during(f"{name} could not start", exc) from exc
        try:
            replay(strategy, orders, bars, 0, should_stop)
            for chunk in feed or ():
                first = bars.bar_count
                bars.extend(chunk)
                replay(strategy, orders, bars, first, should_stop)
        except BacktestCancelledError:
            raise
        except Exception as exc:
            where = f"{bars.describe_bar(orders.bar_index)}: {name} failed"
            raise BacktestFailedError.during(where, exc) from exc
        if feed is not None:
            bars = bars.with_days()
        try:
            if bars.bar_count:
                strategy.last_update = bars.datetimes[-1]
            drive(strategy.stop())
            deliver(strategy, orders.events)
        except Exception as exc:
            raise BacktestFailedError.during(f"after the last bar, {name} failed", exc) from exc
        try:
            daily = daily_results(bars, orders.fills, costs)
            curve = equity_curve(daily, costs.capital)
            statistics = calculate_statistics(daily, curve, costs.capital, self.ratios)
        except Exception as exc:
            raise BacktestFailedError.during("computing the statistics failed", exc) from exc
        return BacktestResult(
            bar_count=bars.bar_count,
            orders_placed=orders.orders_placed,
            fills=orders.fills,
            daily=daily,
            curve=curve,
            statistics=statistics,
            final_position=strategy.position,
        )

    @staticmethod
    def _instantiate(
        strategy_class: type[BaseStrategy],
        parameters: BaseModel,
        symbol: str,
        orders: SimulatedOrders,
    ) -> BaseStrategy:
        strategy = strategy_class(
            BACKTEST_STRATEGY_ID, parameters, user_id=0, symbol=symbol, orders=orders
        )
        strategy._orders_counter = _UNCOUNTED
        strategy.log_lines = deque(maxlen=BACKTEST_LOG_LINES)
        with contextlib.suppress(KeyError):  # the live metric got a child for id 0: drop it
            STRATEGY_ORDERS.remove(str(BACKTEST_STRATEGY_ID))
        return strategy
