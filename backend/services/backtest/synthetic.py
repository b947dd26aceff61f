"""Seeded random-walk one-minute bars on a price grid: for tests, benchmarks and demos.

Use a tick exactly representable in binary floating point (0.5, 0.25, 1): vnpy computes in
floats, and a grid like 0.2 would make its sums differ from exact ones in the last bits.
Each bar opens at the previous close (no gaps), so a limit order at the close always fills
on the next bar, in vnpy's engine and here alike.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from backend.services.backtest.bars import BarSeries

DEFAULT_START = datetime(2024, 1, 2, tzinfo=UTC)


def _as_decimals(ticks: npt.NDArray[np.int64], tick: Decimal) -> list[Decimal]:
    values = {int(count): tick * int(count) for count in np.unique(ticks)}
    return [values[count] for count in ticks.tolist()]


def random_walk_bars(
    count: int,
    *,
    seed: int = 20240102,
    symbol: str = "rb2501.SHFE",
    tick: Decimal = Decimal("0.5"),
    start_price: Decimal = Decimal(3500),
    start: datetime = DEFAULT_START,
) -> BarSeries:
    """`count` one-minute bars, around the clock, of a walk of -3..3 ticks per bar."""
    rng = np.random.default_rng(seed)
    first = int(start_price / tick)
    closes = first + np.cumsum(rng.integers(-3, 4, size=count))
    closes = np.maximum(closes, 10)
    opens = np.concatenate(([first], closes[:-1]))
    highs = np.maximum(opens, closes) + rng.integers(0, 3, size=count)
    lows = np.maximum(np.minimum(opens, closes) - rng.integers(0, 3, size=count), 1)
    volumes = rng.integers(1, 500, size=count)
    step = timedelta(minutes=1)
    datetimes = [start + step * index for index in range(count)]
    prices = (
        _as_decimals(opens, tick),
        _as_decimals(highs, tick),
        _as_decimals(lows, tick),
        _as_decimals(closes, tick),
    )
    return BarSeries.build(symbol, datetimes, prices, _as_decimals(volumes, Decimal(1)))
