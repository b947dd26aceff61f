"""The O(1) moving averages are exact, and signal exactly where vnpy's DoubleMaStrategy does."""

from __future__ import annotations

import random
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

from backend.services.strategy.indicators import (
    DEATH_CROSS,
    GOLDEN_CROSS,
    NO_CROSS,
    SmaCrossover,
    scale_price,
)


def random_walk(count: int, *, seed: int, tick: str = "0.2", start: str = "3500") -> list[Decimal]:
    """Prices on a tick grid, as a market produces them."""
    rng = random.Random(seed)
    step = Decimal(tick)
    price = Decimal(start)
    prices = []
    for _ in range(count):
        price = max(step, price + step * rng.choice((-2, -1, -1, 0, 0, 1, 1, 2)))
        prices.append(price)
    return prices


def reference_signals(prices: list[Decimal], fast: int, slow: int, warmup: int) -> list[int]:
    """vnpy's rule computed directly with exact fractions, O(window) per price."""
    signals = []
    previous: tuple[Fraction, Fraction] | None = None
    for count in range(1, len(prices) + 1):
        window = prices[max(0, count - slow) : count]
        fast_ma = Fraction(sum(window[-fast:], Decimal(0))) / fast
        slow_ma = Fraction(sum(window, Decimal(0))) / slow
        signal = NO_CROSS
        if count >= warmup and previous is not None:
            fast_ma1, slow_ma1 = previous
            if fast_ma > slow_ma and fast_ma1 < slow_ma1:
                signal = GOLDEN_CROSS
            elif fast_ma < slow_ma and fast_ma1 > slow_ma1:
                signal = DEATH_CROSS
        signals.append(signal)
        previous = (fast_ma, slow_ma)
    return signals


def test_sums_stay_exact_over_a_million_prices() -> None:
    prices = random_walk(1_000_000, seed=7, tick="0.01", start="12345.67")
    averages = SmaCrossover(fast_window=10, slow_window=60, warmup=61)
    fast_sums = np.empty(len(prices), dtype=np.int64)
    slow_sums = np.empty(len(prices), dtype=np.int64)
    for index, price in enumerate(prices):
        averages.update(price)
        # In units of 1e-8, as scale_price's.
        fast_sums[index] = averages.fast_sum * 10 ** (8 - averages.digits)
        slow_sums[index] = averages.slow_sum * 10 ** (8 - averages.digits)

    units = np.array([scale_price(price) for price in prices], dtype=np.int64)
    cumulative = np.concatenate(([0], np.cumsum(units)))
    positions = np.arange(1, len(prices) + 1)
    direct_fast = cumulative[positions] - cumulative[np.maximum(positions - 10, 0)]
    direct_slow = cumulative[positions] - cumulative[np.maximum(positions - 60, 0)]
    assert np.array_equal(fast_sums, direct_fast)
    assert np.array_equal(slow_sums, direct_slow)

    # The averages themselves, at the end: exactly the direct means (to 1e-20).
    direct_fast_ma = Fraction(sum(prices[-10:], Decimal(0))) / 10
    direct_slow_ma = Fraction(sum(prices[-60:], Decimal(0))) / 60
    assert abs(Fraction(averages.mean(10)) - direct_fast_ma) < Fraction(1, 10**20)
    assert abs(Fraction(averages.mean(60)) - direct_slow_ma) < Fraction(1, 10**20)


def test_a_float_running_sum_would_drift_where_ours_does_not() -> None:
    prices = random_walk(200_000, seed=3, tick="0.1", start="3500.1")
    averages = SmaCrossover(fast_window=5, slow_window=20, warmup=21)
    drifting = 0.0
    history = [float(price) for price in prices]
    for index, price in enumerate(prices):
        averages.update(price)
        drifting += history[index] - (history[index - 20] if index >= 20 else 0.0)
    exact = sum(prices[-20:], Decimal(0))
    assert averages.mean(20) == exact / 20
    assert drifting != float(exact)


@pytest.mark.parametrize(("fast", "slow", "warmup"), [(2, 3, 4), (10, 20, 100), (5, 30, 31)])
def test_signals_match_the_direct_computation(fast: int, slow: int, warmup: int) -> None:
    prices = random_walk(6_000, seed=fast * slow, tick="1")
    averages = SmaCrossover(fast, slow, warmup)
    signals = [averages.update(price) for price in prices]
    assert signals == reference_signals(prices, fast, slow, warmup)
    assert GOLDEN_CROSS in signals
    assert DEATH_CROSS in signals


def test_no_signal_during_warm_up() -> None:
    averages = SmaCrossover(fast_window=2, slow_window=3, warmup=6)
    prices = [Decimal(p) for p in ("10", "10", "9", "12", "8", "12", "7", "12")]
    signals = [averages.update(price) for price in prices]
    assert signals[:5] == [NO_CROSS] * 5
    assert signals == reference_signals(prices, 2, 3, 6)


def test_means_before_and_after_the_window_fills() -> None:
    averages = SmaCrossover(fast_window=2, slow_window=3, warmup=4)
    averages.update(Decimal("1.5"))
    assert averages.mean(2) is None
    averages.update(Decimal("2.25"))
    assert averages.mean(2) == Decimal("1.875")
    assert averages.mean(3) is None
    averages.update(Decimal("3"))
    assert averages.mean(3) == Decimal("2.25")
    with pytest.raises(ValueError, match="neither"):
        averages.mean(4)


def test_finer_prices_rescale_the_sums_and_change_nothing_else() -> None:
    # Whole prices first (units of 1), then halves, quarters, 1e-8: the sums move to finer
    # units as each arrives; signals and means stay those of the exact computation.
    coarse = random_walk(300, seed=5, tick="1")
    prices = coarse + [price + Decimal(fine) for price, fine in zip(
        random_walk(600, seed=6, tick="1"), ["0.5", "0.25", "0.00000001"] * 200, strict=True
    )]  # fmt: skip
    averages = SmaCrossover(fast_window=3, slow_window=7, warmup=8)
    signals = []
    for count, price in enumerate(prices, 1):
        signals.append(averages.update(price))
        if count == 300:
            assert averages.digits == 0
    assert averages.digits == 8
    assert signals == reference_signals(prices, 3, 7, 8)
    for window in (3, 7):
        # As in units of 1e-8 from the start: the same Decimal, to the last trailing zero.
        units = int(sum(prices[-window:], Decimal(0)) * 10**8)
        assert str(averages.mean(window)) == str((Decimal(units) / window).scaleb(-8))


@pytest.mark.parametrize("bad", ["1.000000001", "Infinity", "NaN"])
def test_prices_beyond_eight_decimals_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match=r"decimals|finite"):
        scale_price(Decimal(bad))


@pytest.mark.parametrize(("fast", "slow", "warmup"), [(0, 3, 4), (3, 3, 4), (2, 3, 3)])
def test_window_rules(fast: int, slow: int, warmup: int) -> None:
    with pytest.raises(ValueError, match=r"window|warmup"):
        SmaCrossover(fast, slow, warmup)


def vnpy_signals(prices: list[Decimal], fast: int, slow: int) -> list[int]:
    """DoubleMaStrategy.on_bar's signal, computed by vnpy's ArrayManager and talib."""
    from datetime import UTC, datetime

    from vnpy.trader.constant import Exchange
    from vnpy.trader.object import BarData
    from vnpy.trader.utility import ArrayManager

    manager = ArrayManager()
    signals = []
    for price in prices:
        value = float(price)
        bar = BarData(
            gateway_name="PAPER",
            symbol="rb2501",
            exchange=Exchange.SHFE,
            datetime=datetime(2026, 1, 5, tzinfo=UTC),
            open_price=value,
            high_price=value,
            low_price=value,
            close_price=value,
        )
        manager.update_bar(bar)
        if not manager.inited:
            signals.append(NO_CROSS)
            continue
        fast_ma = manager.sma(fast, array=True)
        slow_ma = manager.sma(slow, array=True)
        if fast_ma[-1] > slow_ma[-1] and fast_ma[-2] < slow_ma[-2]:
            signals.append(GOLDEN_CROSS)
        elif fast_ma[-1] < slow_ma[-1] and fast_ma[-2] > slow_ma[-2]:
            signals.append(DEATH_CROSS)
        else:
            signals.append(NO_CROSS)
    return signals


def test_signals_match_vnpy_array_manager() -> None:
    # A tick of 0.5 is exact in binary floats, so talib's float sums are exact too and any
    # difference would be a real disagreement, not rounding.
    prices = random_walk(5_000, seed=11, tick="0.5")
    averages = SmaCrossover(fast_window=10, slow_window=20, warmup=100)
    ours = [averages.update(price) for price in prices]
    assert ours == vnpy_signals(prices, 10, 20)
    assert ours.count(GOLDEN_CROSS) > 10
