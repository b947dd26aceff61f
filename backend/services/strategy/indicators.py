"""Exact O(1) fast/slow simple moving averages and their crossover, as vnpy's DoubleMaStrategy.

Prices are held as integers in units of 10**-digits, `digits` being the most decimals any
price seen so far had (at most 8, what the API allows), so the rolling sums are exact however
many ticks pass: no drift, no periodic re-summation needed. The fewest digits keep the integers
small, which Python adds and multiplies a third faster (a 0.5 tick: 3500.5 is 35005). The
averages are compared by cross-multiplying the sums, so no division happens per tick.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

PRICE_SCALE_DIGITS = 8
_UNITS_PER_PRICE = 10**PRICE_SCALE_DIGITS
_UNITS_CACHE_SIZE = 65_536

GOLDEN_CROSS = 1
DEATH_CROSS = -1
NO_CROSS = 0


def scale_price(price: Decimal) -> int:
    """`price` in units of 1e-8, exactly; ValueError if it has more decimals or is not finite."""
    if not price.is_finite():
        raise ValueError(f"price {price} is not finite")
    numerator, denominator = price.as_integer_ratio()
    if _UNITS_PER_PRICE % denominator:
        raise ValueError(f"price {price} has more than {PRICE_SCALE_DIGITS} decimals")
    units: int = numerator * (_UNITS_PER_PRICE // denominator)
    return units


class SmaCrossover:
    """Fast and slow SMAs over one ring buffer, updated in O(1) per price with exact sums."""

    __slots__ = (
        "_fast_back",
        "_ring",
        "_units",
        "count",
        "diff",
        "digits",
        "fast_sum",
        "fast_window",
        "slow_sum",
        "slow_window",
        "warmup",
    )

    def __init__(self, fast_window: int, slow_window: int, warmup: int) -> None:
        if not 1 <= fast_window < slow_window:
            raise ValueError("need 1 <= fast_window < slow_window")
        if warmup < slow_window + 1:
            raise ValueError("warmup must be at least slow_window + 1")
        self.fast_window = fast_window
        self.slow_window = slow_window
        self.warmup = warmup
        # The last `slow_window` prices, oldest first; zeros until that many arrived, so the
        # partial sums stay right during warm-up. Both ends of a deque are O(1).
        self._ring = deque([0] * slow_window, maxlen=slow_window)
        self._fast_back = -fast_window
        self._units: dict[Decimal, int] = {}
        # Prices, sums and diff are in units of 10**-digits (0 until a price has decimals).
        self.digits = 0
        self.count = 0
        self.fast_sum = 0
        self.slow_sum = 0
        self.diff = 0

    def update(self, price: Decimal) -> int:
        """Add one price; GOLDEN_CROSS, DEATH_CROSS or NO_CROSS (always NO_CROSS in warm-up)."""
        # Keyed by the Decimal: a backtest's bars share one Decimal object per distinct price
        # (the CSV reader, the history feed), whose hash Python computes once and keeps, so
        # the lookup costs next to nothing; a live tick's fresh Decimal is hashed once.
        try:
            units = self._units[price]
        except (KeyError, TypeError):  # TypeError: a signalling NaN cannot be hashed
            units = self._remember(price)
        ring = self._ring
        self.slow_sum = slow_sum = self.slow_sum + units - ring[0]
        self.fast_sum = fast_sum = self.fast_sum + units - ring[self._fast_back]
        ring.append(units)
        self.count = count = self.count + 1
        previous = self.diff
        # sign(fast_ma - slow_ma) without dividing: fast_sum/fast vs slow_sum/slow.
        self.diff = diff = fast_sum * self.slow_window - slow_sum * self.fast_window
        if count < self.warmup:
            return NO_CROSS
        if diff > 0 and previous < 0:
            return GOLDEN_CROSS
        if diff < 0 and previous > 0:
            return DEATH_CROSS
        return NO_CROSS

    def mean(self, window: int) -> Decimal | None:
        """The exact SMA of the last `window` prices (fast or slow), None before enough prices."""
        if window == self.fast_window:
            total = self.fast_sum
        elif window == self.slow_window:
            total = self.slow_sum
        else:
            raise ValueError(f"window {window} is neither the fast nor the slow window")
        if self.count < window:
            return None
        # In units of 1e-8 whatever the digits: the same Decimal, to the last trailing zero.
        total *= 10 ** (PRICE_SCALE_DIGITS - self.digits)
        return (Decimal(total) / window).scaleb(-PRICE_SCALE_DIGITS)

    def _remember(self, price: Decimal) -> int:
        fine_units = scale_price(price)
        digits = self.digits
        while fine_units % 10 ** (PRICE_SCALE_DIGITS - digits):
            digits += 1
        if digits > self.digits:
            self._rescale(10 ** (digits - self.digits))
            self.digits = digits
        units: int = fine_units // 10 ** (PRICE_SCALE_DIGITS - digits)
        if len(self._units) >= _UNITS_CACHE_SIZE:
            self._units.clear()
        self._units[price] = units
        return units

    def _rescale(self, factor: int) -> None:
        """A price with more decimals arrived: everything held in units `factor` times finer."""
        self._ring = deque((units * factor for units in self._ring), maxlen=self.slow_window)
        self.fast_sum *= factor
        self.slow_sum *= factor
        self.diff *= factor
        self._units = {price: units * factor for price, units in self._units.items()}
