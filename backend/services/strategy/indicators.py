"""Exact O(1) fast/slow simple moving averages and their crossover, as vnpy's DoubleMaStrategy.

Prices are held as integers in units of 1e-8 (the API allows at most 8 decimals), so the
rolling sums are exact however many ticks pass: no drift, no periodic re-summation needed.
The averages are compared by cross-multiplying the sums, so no division happens per tick.
"""

from __future__ import annotations

from decimal import Decimal

PRICE_SCALE_DIGITS = 8
_UNITS_PER_PRICE = 10**PRICE_SCALE_DIGITS
_UNITS_CACHE_SIZE = 65_536

GOLDEN_CROSS = 1
DEATH_CROSS = -1
NO_CROSS = 0


def _ratio(price: Decimal) -> tuple[int, int]:
    try:
        return price.as_integer_ratio()
    except (ValueError, OverflowError):
        raise ValueError(f"price {price} is not finite") from None


def units_per(denominator: int) -> int:
    """Units of 1e-8 in 1/denominator; ValueError when that is not a whole number."""
    multiplier, remainder = divmod(_UNITS_PER_PRICE, denominator)
    if remainder:
        raise ValueError(f"a price in 1/{denominator} has more than {PRICE_SCALE_DIGITS} decimals")
    return multiplier


def scale_price(price: Decimal) -> int:
    """`price` in units of 1e-8, exactly; ValueError if it has more decimals or is not finite."""
    numerator, denominator = _ratio(price)
    return numerator * units_per(denominator)


class SmaCrossover:
    """Fast and slow SMAs over one ring buffer, updated in O(1) per price with exact sums."""

    __slots__ = (
        "_units",
        "_fast_out",
        "_ring",
        "_write",
        "count",
        "diff",
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
        self._ring = [0] * slow_window
        self._write = 0
        self._fast_out = slow_window - fast_window
        self._units: dict[str, int] = {}
        self.count = 0
        self.fast_sum = 0
        self.slow_sum = 0
        self.diff = 0

    def update(self, price: Decimal) -> int:
        """Add one price; GOLDEN_CROSS, DEATH_CROSS or NO_CROSS (always NO_CROSS in warm-up)."""
        # Each tick brings a fresh Decimal; its str() is exact and far cheaper to compute and
        # hash than the Decimal itself or its integer ratio, and prices repeat on a grid.
        key = str(price)
        units = self._units.get(key)
        if units is None:
            units = self._remember(key, price)
        # The hot path of every strategy tick: locals, no calls, no allocation.
        ring = self._ring
        write = self._write
        fast_out = self._fast_out
        size = self.slow_window
        # Unwritten slots hold 0, so partial sums are right during warm-up.
        slow_sum = self.slow_sum + units - ring[write]
        fast_sum = self.fast_sum + units - ring[fast_out]
        ring[write] = units
        write += 1
        fast_out += 1
        self._write = 0 if write == size else write
        self._fast_out = 0 if fast_out == size else fast_out
        self.slow_sum = slow_sum
        self.fast_sum = fast_sum
        self.count = count = self.count + 1
        previous = self.diff
        # sign(fast_ma - slow_ma) without dividing: fast_sum/fast vs slow_sum/slow.
        self.diff = diff = fast_sum * size - slow_sum * self.fast_window
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
        return (Decimal(total) / window).scaleb(-PRICE_SCALE_DIGITS)

    def _remember(self, key: str, price: Decimal) -> int:
        units = scale_price(price)
        if len(self._units) >= _UNITS_CACHE_SIZE:
            self._units.clear()
        self._units[key] = units
        return units
