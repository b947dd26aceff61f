"""CtaEnginePort: what a CtaTemplate calls on its `cta_engine`, shared by every RedFire adapter.

vnpy's CtaTemplate talks to exactly one object, its engine, through the methods below. RedFire
implements them over the same interface twice: `CtaBacktestEngine` (services/cta/backtest.py)
fills orders on bars as vnpy's BacktestingEngine does; `CtaLiveEngine` (services/cta/live.py),
with `engine_type` LIVE, queues the orders and cancels that its host, `CtaStrategyHost`
(services/cta/host.py, a BaseStrategy run by the StrategyEngine like any strategy), places
through the order service after each callback; its stop orders trigger locally on ticks, its
`load_bar` reads stored bars, and its `put_strategy_event` / `sync_strategy_data` publish and
persist the strategy's variables.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Protocol

from vnpy.trader.constant import Direction, Interval, Offset
from vnpy.trader.object import BarData, TickData
from vnpy.trader.utility import round_to
from vnpy_ctastrategy.base import EngineType
from vnpy_ctastrategy.template import CtaTemplate

# How many log lines of a strategy an adapter keeps (vnpy keeps all; a million-bar run could
# log a million lines).
LOG_LINES_KEPT = 1000


class CtaEnginePort(Protocol):
    """The calls CtaTemplate makes on its engine (vnpy_ctastrategy.template)."""

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
        """Place a limit (or local stop) order; its vt_orderids."""
        ...

    def cancel_order(self, strategy: CtaTemplate, vt_orderid: str) -> None:
        """Cancel one order or stop order of the strategy."""
        ...

    def cancel_all(self, strategy: CtaTemplate) -> None:
        """Cancel every open order and stop order of the strategy."""
        ...

    def write_log(self, msg: str, strategy: CtaTemplate | None = None) -> None:
        """Record a log line of the strategy."""
        ...

    def get_engine_type(self) -> EngineType:
        """BACKTESTING or LIVE."""
        ...

    def get_pricetick(self, strategy: CtaTemplate) -> float:
        """The traded contract's price tick."""
        ...

    def get_size(self, strategy: CtaTemplate) -> float:
        """The traded contract's multiplier."""
        ...

    def load_bar(
        self,
        vt_symbol: str,
        days: int,
        interval: Interval,
        callback: Callable[[BarData], None],
        use_database: bool,
    ) -> list[BarData]:
        """History before the start, which the template feeds to `callback` (warm-up)."""
        ...

    def load_tick(
        self, vt_symbol: str, days: int, callback: Callable[[TickData], None]
    ) -> list[TickData]:
        """Tick history before the start."""
        ...

    def put_strategy_event(self, strategy: CtaTemplate) -> None:
        """The strategy's variables changed."""
        ...

    def send_email(self, msg: str, strategy: CtaTemplate | None = None) -> None:
        """Notify the strategy's owner."""
        ...

    def sync_strategy_data(self, strategy: CtaTemplate) -> None:
        """Persist the strategy's variables."""
        ...


class CtaEngineBase:
    """What every adapter does the same way: logs, price rounding, no-op notifications.

    Subclasses implement the order calls, history and `engine_type`.
    """

    engine_type: EngineType

    def __init__(self, *, pricetick: float, size: float) -> None:
        self.pricetick = pricetick
        self.size = size
        self.logs: deque[str] = deque(maxlen=LOG_LINES_KEPT)
        # round_to is pure and strategies send the same prices again and again.
        self._rounded: dict[float, float] = {}

    def round_price(self, price: float) -> float:
        """vnpy's `round_to(price, pricetick)`; a price tick of 0 leaves the price as it is."""
        rounded = self._rounded.get(price)
        if rounded is None:
            rounded = round_to(price, self.pricetick) if self.pricetick else price
            self._rounded[price] = rounded
        return rounded

    def log_prefix(self) -> str:
        """What a log line starts with (vnpy's backtest: the current bar's datetime)."""
        return ""

    def write_log(self, msg: str, strategy: CtaTemplate | None = None) -> None:
        """Keep the line (the last LOG_LINES_KEPT of them)."""
        self.logs.append(f"{self.log_prefix()}\t{msg}")

    def get_engine_type(self) -> EngineType:
        """The adapter's engine type."""
        return self.engine_type

    def get_pricetick(self, strategy: CtaTemplate) -> float:
        """The price tick the adapter rounds to."""
        return self.pricetick

    def get_size(self, strategy: CtaTemplate) -> float:
        """The contract multiplier."""
        return self.size

    def put_strategy_event(self, strategy: CtaTemplate) -> None:
        """Nothing listens in a backtest."""

    def send_email(self, msg: str, strategy: CtaTemplate | None = None) -> None:
        """No mail is sent (as vnpy's BacktestingEngine)."""

    def sync_strategy_data(self, strategy: CtaTemplate) -> None:
        """Nothing is persisted (as vnpy's BacktestingEngine)."""
