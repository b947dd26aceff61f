"""CtaBacktestEngine: a vnpy CtaTemplate over RedFire's bars, with vnpy BacktestingEngine's rules.

The strategy is the unmodified class; this object is its `cta_engine`. Per bar, as vnpy's
`new_bar`: limit orders are crossed first, then stop orders, then the strategy's `on_bar`.

- Limit orders (`cross_limit_order`): each active order still SUBMITTING is reported
  NOTTRADED first; a buy fills when the bar's low <= its price (at min(price, open)), a sell
  when the high >= its price (at max(price, open)), the order reported ALLTRADED before the
  position changes and `on_trade` is called.
- Stop orders (`cross_stop_order`): a buy triggers when the high >= its price (at
  max(price, open)), a sell when the low <= its price (at min(price, open)); the trigger
  creates a filled limit order (numbered with the limit orders) and calls `on_stop_order`,
  `on_order`, then `on_trade`.
- Both loops walk a snapshot of the orders active when the loop began, as vnpy's do: an order
  the strategy cancels from a callback during the loop can still fill on that bar.
- Prices of new orders are rounded with vnpy's `round_to` to the price tick (0: unrounded; vnpy
  cannot run with 0). `lock` and `net` change nothing in a backtest, as in vnpy.
- `load_bar(days)` returns the bars between `start - days` and `start - one interval`, which
  the template feeds to the callback before the strategy is inited or trading (vnpy's window
  over its database; here the uploaded bars before `start`). `load_tick` has no ticks.

Unlike vnpy, which prints an exception and quietly ends the replay, a strategy callback that
raises fails the backtest (`CtaStrategyError` names the callback and the bar). The daily table
and statistics are RedFire's exact Decimal ones (services/backtest/daily.py, statistics.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from vnpy.trader.constant import Direction, Exchange, Interval, Offset, Status
from vnpy.trader.object import BarData, OrderData, TickData, TradeData
from vnpy_ctastrategy.base import (
    INTERVAL_DELTA_MAP,
    STOPORDER_PREFIX,
    EngineType,
    StopOrder,
    StopOrderStatus,
)
from vnpy_ctastrategy.template import CtaTemplate

from backend.core.lifecycle.cpu_priority import Courtesy
from backend.models.enums import OrderSide
from backend.services.backtest.bars import BarSeries
from backend.services.backtest.daily import CostModel, daily_results
from backend.services.backtest.engine import (
    STOP_CHECK_BARS,
    BacktestCancelledError,
    BacktestFailedError,
    BacktestResult,
)
from backend.services.backtest.orders import Fills
from backend.services.backtest.statistics import RatioSettings, calculate_statistics, equity_curve
from backend.services.backtest.window import split_at
from backend.services.cta.arrays import adopt_array_managers
from backend.services.cta.history import bar_data, bar_stream
from backend.services.cta.port import CtaEngineBase

GATEWAY = "BACKTESTING"
BEFORE_REPLAY = datetime(1970, 1, 1)
_NEW_STOP_ORDER = StopOrder.__new__
_SIDE = {Direction.LONG: OrderSide.BUY, Direction.SHORT: OrderSide.SELL}


def stop_order(
    vt_symbol: str,
    direction: Direction,
    offset: Offset,
    price: float,
    volume: float,
    stop_orderid: str,
    strategy_name: str,
    moment: datetime,
) -> StopOrder:
    """vnpy's StopOrder(...) with these values, built without the dataclass constructor.

    Strategies like AtrRsi send a stop order on every bar; this costs a third of the
    constructor (a test compares the two objects' attributes).
    """
    order: StopOrder = _NEW_STOP_ORDER(StopOrder)
    order.__dict__ = {
        "vt_symbol": vt_symbol, "direction": direction, "offset": offset, "price": price,
        "volume": volume, "stop_orderid": stop_orderid, "strategy_name": strategy_name,
        "datetime": moment, "lock": False, "net": False, "vt_orderids": [],
        "status": StopOrderStatus.WAITING,
    }  # fmt: skip
    return order


class CtaStrategyError(BacktestFailedError):
    """A callback of the CTA strategy raised; the backtest fails with this message."""


@dataclass(frozen=True, slots=True)
class CtaRun:
    """What a CTA backtest needs besides the class: its setting and where the replay starts."""

    setting: dict[str, Any]
    start: datetime | None = None


class CtaBacktestEngine(CtaEngineBase):
    """One run of one CtaTemplate class over a bar series (a fresh engine per run)."""

    engine_type = EngineType.BACKTESTING
    gateway_name = GATEWAY

    def __init__(self, costs: CostModel, ratios: RatioSettings | None = None) -> None:
        super().__init__(pricetick=float(costs.pricetick), size=float(costs.size))
        self.costs = costs
        self.ratios = ratios or RatioSettings()
        self.strategy: CtaTemplate
        self.history: list[BarData] = []
        self.start: datetime = datetime(1970, 1, 1)
        self.symbol = ""
        self.exchange: Exchange
        self.bar: BarData | None = None
        self.index = 0
        self.phase = "on_init"
        self.callback: Callable[..., Any] | None = None
        self.should_stop: Callable[[], bool] | None = None
        self.limit_order_count = 0
        self.stop_order_count = 0
        self.active_limit_orders: dict[str, OrderData] = {}
        self.active_stop_orders: dict[str, StopOrder] = {}
        self.trade_count = 0
        self.fills = Fills([], [], [], [], [])
        self.offsets: list[Offset] = []
        self._decimals: dict[float, Decimal] = {}

    @property
    def datetime(self) -> datetime:
        """The bar being replayed (vnpy's `engine.datetime`; 1970-01-01 before the first)."""
        bar = self.bar
        return bar.datetime if bar is not None else BEFORE_REPLAY

    def run(
        self,
        strategy_class: type[CtaTemplate],
        run: CtaRun,
        bars: BarSeries,
        should_stop: Callable[[], bool] | None = None,
    ) -> BacktestResult:
        """Warm up on the bars before `run.start`, replay the rest, compute vnpy's results.

        `should_stop` is asked every STOP_CHECK_BARS bars: BacktestCancelledError once it
        says so."""
        self.should_stop = should_stop
        warmup, replay = split_at(bars, run.start)
        self.symbol, exchange = replay.symbol.rsplit(".", 1)
        self.exchange = Exchange(exchange)
        self.history = bar_data(warmup)
        self.start = replay.datetimes[0] if replay.bar_count else (run.start or self.start)
        strategy = strategy_class(self, strategy_class.__name__, replay.symbol, dict(run.setting))
        self.strategy = strategy
        adopt_array_managers(strategy)
        self._call("on_init", strategy.on_init)
        adopt_array_managers(strategy)
        strategy.inited = True
        self._call("on_start", strategy.on_start)
        strategy.trading = True
        self._replay(bar_stream(replay))
        self._call("on_stop", strategy.on_stop)
        daily = daily_results(replay, self.fills, self.costs)
        curve = equity_curve(daily, self.costs.capital)
        return BacktestResult(
            bar_count=replay.bar_count,
            orders_placed=self.limit_order_count + self.stop_order_count,
            fills=self.fills,
            daily=daily,
            curve=curve,
            statistics=calculate_statistics(daily, curve, self.costs.capital, self.ratios),
            final_position=self._decimal(float(strategy.pos)),
        )

    def _call(self, phase: str, callback: Callable[[], None]) -> None:
        self.phase = phase
        try:
            callback()
        except Exception as exc:
            raise self._failure(exc) from exc

    def _failure(self, exc: Exception) -> CtaStrategyError:
        bar = self.bar
        where = f" at the bar of {bar.datetime.isoformat()}" if bar is not None else ""
        text = str(exc)
        reason = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
        return CtaStrategyError(
            f"{self.strategy.__class__.__name__}.{self.phase}{where} raised {reason}"
        )

    def _replay(self, bars: Iterable[BarData]) -> None:
        self.phase = "on_bar"
        on_bar = self.strategy.on_bar
        active_limit, active_stop = self.active_limit_orders, self.active_stop_orders
        should_stop = self.should_stop
        courtesy = Courtesy()
        try:
            for index, bar in enumerate(bars):
                if should_stop is not None and not index % STOP_CHECK_BARS:
                    courtesy.checkpoint()  # a research process yields to busier work
                    if should_stop():
                        raise BacktestCancelledError
                self.bar = bar
                self.index = index
                if active_limit:
                    self._cross_limit_orders(bar)
                if active_stop:
                    self._cross_stop_orders(bar)
                on_bar(bar)
        except BacktestCancelledError:
            raise
        except Exception as exc:
            raise self._failure(exc) from exc

    def _cross_limit_orders(self, bar: BarData) -> None:
        """vnpy's `cross_limit_order` in bar mode."""
        strategy = self.strategy
        long_cross_price = bar.low_price
        short_cross_price = bar.high_price
        best_price = bar.open_price
        for order in list(self.active_limit_orders.values()):
            if order.status is Status.SUBMITTING:
                order.status = Status.NOTTRADED
                strategy.on_order(order)
            long_cross = (
                order.direction is Direction.LONG
                and order.price >= long_cross_price
                and long_cross_price > 0
            )
            short_cross = (
                order.direction is Direction.SHORT
                and order.price <= short_cross_price
                and short_cross_price > 0
            )
            if not long_cross and not short_cross:
                continue
            order.traded = order.volume
            order.status = Status.ALLTRADED
            strategy.on_order(order)
            self.active_limit_orders.pop(order.vt_orderid, None)
            if long_cross:
                price = min(order.price, best_price)
                pos_change = order.volume
            else:
                price = max(order.price, best_price)
                pos_change = -order.volume
            trade = self._trade(order, price)
            strategy.pos += pos_change
            strategy.on_trade(trade)

    def _cross_stop_orders(self, bar: BarData) -> None:
        """vnpy's `cross_stop_order` in bar mode."""
        strategy = self.strategy
        long_cross_price = bar.high_price
        short_cross_price = bar.low_price
        best_price = bar.open_price
        for stop_order in list(self.active_stop_orders.values()):
            long_cross = (
                stop_order.direction is Direction.LONG and stop_order.price <= long_cross_price
            )
            short_cross = (
                stop_order.direction is Direction.SHORT and stop_order.price >= short_cross_price
            )
            if not long_cross and not short_cross:
                continue
            self.limit_order_count += 1
            order = OrderData(
                symbol=self.symbol, exchange=self.exchange, orderid=str(self.limit_order_count),
                direction=stop_order.direction, offset=stop_order.offset, price=stop_order.price,
                volume=stop_order.volume, traded=stop_order.volume, status=Status.ALLTRADED,
                gateway_name=GATEWAY, datetime=bar.datetime,
            )  # fmt: skip
            if long_cross:
                price = max(stop_order.price, best_price)
                pos_change = order.volume
            else:
                price = min(stop_order.price, best_price)
                pos_change = -order.volume
            trade = self._trade(order, price)
            stop_order.vt_orderids.append(order.vt_orderid)
            stop_order.status = StopOrderStatus.TRIGGERED
            self.active_stop_orders.pop(stop_order.stop_orderid, None)
            strategy.on_stop_order(stop_order)
            strategy.on_order(order)
            strategy.pos += pos_change
            strategy.on_trade(trade)

    def _trade(self, order: OrderData, price: float) -> TradeData:
        """Record the fill of `order` at `price` on the current bar; vnpy's TradeData of it."""
        self.trade_count += 1
        assert order.direction is not None
        trade = TradeData(
            symbol=order.symbol, exchange=order.exchange, orderid=order.orderid,
            tradeid=str(self.trade_count), direction=order.direction, offset=order.offset,
            price=price, volume=order.volume, datetime=self.datetime, gateway_name=GATEWAY,
        )  # fmt: skip
        fills = self.fills
        fills.bar_index.append(self.index)
        fills.side.append(_SIDE[order.direction])
        fills.price.append(self._decimal(price))
        fills.quantity.append(self._decimal(order.volume))
        fills.order_id.append(int(order.orderid))
        self.offsets.append(order.offset)
        return trade

    def _decimal(self, value: float) -> Decimal:
        """The shortest decimal that reads back as `value` (3500.2, not its binary expansion)."""
        exact = self._decimals.get(value)
        if exact is None:
            exact = self._decimals[value] = Decimal(repr(value))
        return exact

    # ----------------------------------------------------------- CtaEnginePort: orders
    def send_order(
        self,
        strategy: CtaTemplate,
        direction: Direction,
        offset: Offset,
        price: float,
        volume: float,
        stop: bool,
        lock: bool,
        net: bool,
    ) -> list[str]:
        """A local stop order or a limit order at the rounded price, active from the next bar."""
        price = self.round_price(price)
        if stop:
            return [self._send_stop_order(direction, offset, price, volume)]
        return [self._send_limit_order(direction, offset, price, volume)]

    def _send_stop_order(
        self, direction: Direction, offset: Offset, price: float, volume: float
    ) -> str:
        self.stop_order_count += 1
        stop_orderid = f"{STOPORDER_PREFIX}.{self.stop_order_count}"
        strategy = self.strategy
        self.active_stop_orders[stop_orderid] = stop_order(
            strategy.vt_symbol, direction, offset, price, volume, stop_orderid,
            strategy.strategy_name, self.datetime,
        )  # fmt: skip
        return stop_orderid

    def _send_limit_order(
        self, direction: Direction, offset: Offset, price: float, volume: float
    ) -> str:
        self.limit_order_count += 1
        order = OrderData(
            symbol=self.symbol, exchange=self.exchange, orderid=str(self.limit_order_count),
            direction=direction, offset=offset, price=price, volume=volume,
            status=Status.SUBMITTING, gateway_name=GATEWAY, datetime=self.datetime,
        )  # fmt: skip
        self.active_limit_orders[order.vt_orderid] = order
        return order.vt_orderid

    def cancel_order(self, strategy: CtaTemplate, vt_orderid: str) -> None:
        """Cancel a stop order (STOP.n) or a limit order; unknown or final ids are ignored."""
        if vt_orderid.startswith(STOPORDER_PREFIX):
            self._cancel_stop_order(vt_orderid)
        else:
            self._cancel_limit_order(vt_orderid)

    def _cancel_stop_order(self, vt_orderid: str) -> None:
        stop_order = self.active_stop_orders.pop(vt_orderid, None)
        if stop_order is not None:
            stop_order.status = StopOrderStatus.CANCELLED
            self.strategy.on_stop_order(stop_order)

    def _cancel_limit_order(self, vt_orderid: str) -> None:
        order = self.active_limit_orders.pop(vt_orderid, None)
        if order is not None:
            order.status = Status.CANCELLED
            self.strategy.on_order(order)

    def cancel_all(self, strategy: CtaTemplate) -> None:
        """Cancel every limit order, then every stop order (vnpy's order)."""
        if self.active_limit_orders:
            for vt_orderid in list(self.active_limit_orders):
                self._cancel_limit_order(vt_orderid)
        if self.active_stop_orders:
            for vt_orderid in list(self.active_stop_orders):
                self._cancel_stop_order(vt_orderid)

    # ----------------------------------------------------------- CtaEnginePort: history
    def load_bar(
        self,
        vt_symbol: str,
        days: int,
        interval: Interval,
        callback: Callable[[BarData], None],
        use_database: bool,
    ) -> list[BarData]:
        """The bars in [start - days, start - one interval], oldest first."""
        self.callback = callback
        adopt_array_managers(self.strategy)
        first = self.start - timedelta(days=days)
        last = self.start - INTERVAL_DELTA_MAP[interval]
        return [bar for bar in self.history if first <= bar.datetime <= last]

    def load_tick(
        self, vt_symbol: str, days: int, callback: Callable[[TickData], None]
    ) -> list[TickData]:
        """No tick history: backtests replay bars."""
        self.callback = callback
        return []

    def log_prefix(self) -> str:
        """vnpy's backtest log lines start with the current bar's datetime."""
        return str(self.datetime)
