"""RunningMaStrategy: MovingAverageStrategy ported to vnpy, the cheap strategy of the benchmarks.

DoubleMaStrategy's signals (a golden cross goes long, a death cross short, limit orders at the
close, nothing before `warmup_bars` bars as its 100-bar ArrayManager), but each bar costs what
it costs RedFire's MovingAverageStrategy: two running sums updated in O(1) and compared by
cross-multiplying, no arrays, no talib. Like MovingAverageStrategy it cancels and trades only
on a crossover, closing an opposite position whole before opening `fixed_size`. The sums are
floats: exact on the benchmarks' binary price grid (tick 0.5), so the trades are RedFire's.
Timing RedFire against vnpy with it measures the engines, not the indicators.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from vnpy.trader.object import BarData
from vnpy_ctastrategy.template import CtaTemplate


class RunningMaStrategy(CtaTemplate):  # type: ignore[misc]
    """Fast/slow SMA crossover with O(1) running sums (vnpy's DoubleMaStrategy signals)."""

    author = "RedFire bench"

    fast_window: int = 10
    slow_window: int = 20
    warmup_bars: int = 100
    fixed_size: int = 1

    # vnpy declares them as class lists.
    parameters = ["fast_window", "slow_window", "warmup_bars", "fixed_size"]  # noqa: RUF012
    variables: list[str] = []  # noqa: RUF012

    def __init__(
        self, cta_engine: Any, strategy_name: str, vt_symbol: str, setting: dict[str, Any]
    ) -> None:
        super().__init__(cta_engine, strategy_name, vt_symbol, setting)
        # The last `slow_window` closes, oldest first (zeros until that many arrived).
        self.closes: deque[float] = deque([0.0] * self.slow_window, maxlen=self.slow_window)
        self.fast_back = -self.fast_window
        self.fast_sum = 0.0
        self.slow_sum = 0.0
        self.count = 0
        self.diff = 0.0

    def on_init(self) -> None:
        """Nothing to load: MovingAverageStrategy warms up on the replayed bars too."""

    def on_bar(self, bar: BarData) -> None:
        """Add the close; on a crossover, reverse or open the position at the close."""
        price = bar.close_price
        closes = self.closes
        self.slow_sum = slow_sum = self.slow_sum + price - closes[0]
        self.fast_sum = fast_sum = self.fast_sum + price - closes[self.fast_back]
        closes.append(price)
        self.count = count = self.count + 1
        previous = self.diff
        # sign(fast_ma - slow_ma) without dividing: fast_sum/fast vs slow_sum/slow.
        self.diff = diff = fast_sum * self.slow_window - slow_sum * self.fast_window
        if count < self.warmup_bars:
            return
        if diff > 0 and previous < 0:
            self.cancel_all()
            if self.pos < 0:
                self.cover(price, -self.pos)
            if self.pos <= 0:
                self.buy(price, self.fixed_size)
        elif diff < 0 and previous > 0:
            self.cancel_all()
            if self.pos > 0:
                self.sell(price, self.pos)
            if self.pos >= 0:
                self.short(price, self.fixed_size)
