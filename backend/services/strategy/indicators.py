"""Exact O(1) fast/slow simple moving averages and their crossover, as vnpy's DoubleMaStrategy.

Prices are held as integers in units of 1e-8 (the API allows at most 8 decimals), so the
rolling sums are exact however many ticks pass: no drift, no periodic re-summation needed.
The averages are compared by cross-multiplying the sums, so no division happens per tick.
"""

from __future__ import annotations

from decimal import Decimal

PRICE_SCALE_DIGITS = 8
_SCALE = Decimal(10) ** PRICE_SCALE_DIGITS
_CACHE_LIMIT = 65_536

GOLDEN_CROSS = 1
DEATH_CROSS = -1
NO_CROSS = 0


def scale_price(price: Decimal) -> int:
    """`price` in units of 1e-8, exactly; ValueError if it has more decimals or is not finite."""
    if not price.is_finite():
        raise ValueError(f"price {price} is not finite")
    scaled = price.scaleb(PRICE_SCALE_DIGITS)
    units = int(scaled)
    if units != scaled:
        raise ValueError(f"price {price} has more than {PRICE_SCALE_DIGITS} decimals")
    return units


class SmaCrossover:
    """Fast and slow SMAs over one ring buffer, updated in O(1) per price with exact sums."""

    __slots__ = (
        "_cache",
        "_fast_out",
        "_ring",
        "_write",
        "count",
        "diff",
        "fast_sum",
        "fast_window",
        "prev_diff",
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
        self._cache: dict[Decimal, int] = {}
        self.count = 0
        self.fast_sum = 0
        self.slow_sum = 0
        self.diff = 0
        self.prev_diff = 0

    def update(self, price: Decimal) -> int:
        """Add one price; GOLDEN_CROSS, DEATH_CROSS or NO_CROSS (always NO_CROSS in warm-up)."""
        units = self._cache.get(price)
        if units is None:
            units = self._remember(price)
        return self.update_units(units)

    def update_units(self, units: int) -> int:
        """Add one price given in units of 1e-8; the crossover signal of this price."""
        ring = self._ring
        write = self._write
        fast_out = self._fast_out
        # Unwritten slots hold 0, so partial sums are right during warm-up.
        self.slow_sum += units - ring[write]
        self.fast_sum += units - ring[fast_out]
        ring[write] = units
        write += 1
        self._write = 0 if write == self.slow_window else write
        fast_out += 1
        self._fast_out = 0 if fast_out == self.slow_window else fast_out
        self.count += 1
        prev = self.diff
        # sign(fast_ma - slow_ma) without dividing: fast_sum/fast vs slow_sum/slow.
        diff = self.fast_sum * self.slow_window - self.slow_sum * self.fast_window
        self.prev_diff = prev
        self.diff = diff
        if self.count < self.warmup:
            return NO_CROSS
        if diff > 0 and prev < 0:
            return GOLDEN_CROSS
        if diff < 0 and prev > 0:
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

    def _remember(self, price: Decimal) -> int:
        # Tick prices repeat on a grid, so a small dict beats Decimal arithmetic per tick.
        units = scale_price(price)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[price] = units
        return units
