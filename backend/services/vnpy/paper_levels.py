"""LimitLevels: one side's resting PAPER limit orders, by price level, each level by arrival.

A level is the list of (arrival number, order) resting at one price, oldest first; the prices
with a level are kept sorted, so the levels a quote crosses are one slice of them. Orders are
removed when they fill or are cancelled (found by bisecting their arrival number), so no stale
entry is ever left behind.
"""

from __future__ import annotations

import bisect
from decimal import Decimal

from backend.services.vnpy.paper_market import PaperOrder

# (arrival number, order): arrival numbers are unique, so orders are never compared.
Resting = tuple[int, PaperOrder]


class LimitLevels:
    """Buy or sell limits (not thread-safe: the gateway's lock guards it)."""

    __slots__ = ("buy", "levels", "prices")

    def __init__(self, *, buy: bool) -> None:
        self.buy = buy
        self.levels: dict[Decimal, list[Resting]] = {}
        self.prices: list[Decimal] = []  # ascending, one per level

    def add(self, arrival: int, order: PaperOrder) -> None:
        """Rest `order` at its price, in arrival order (an older order goes before newer ones)."""
        level = self.levels.get(order.price)
        if level is None:
            self.levels[order.price] = [(arrival, order)]
            bisect.insort(self.prices, order.price)
        elif level[-1][0] < arrival:
            level.append((arrival, order))
        else:  # it arrived before orders already here (a stop-limit resting as a limit)
            bisect.insort(level, (arrival, order))

    def remove(self, arrival: int, price: Decimal) -> None:
        """Take out the order that arrived `arrival`th, resting at `price`."""
        level = self.levels[price]
        place = bisect.bisect_left(level, (arrival,))
        if place == len(level) or level[place][0] != arrival:
            raise KeyError(f"no order {arrival} resting at {price}")
        del level[place]
        if not level:
            self._drop(price)

    def pop_oldest(self, price: Decimal) -> list[Resting] | None:
        """Take out the oldest order at `price`; the level left, or None when it emptied."""
        level = self.levels[price]
        del level[0]
        if level:
            return level
        self._drop(price)
        return None

    def crossed_by(self, touch: Decimal) -> list[Decimal]:
        """The prices a quote's touch crosses: buys at or above the ask, sells at or below
        the bid."""
        if self.buy:
            return self.prices[bisect.bisect_left(self.prices, touch) :]
        return self.prices[: bisect.bisect_right(self.prices, touch)]

    def reaches(self, price: Decimal, reach: Decimal) -> bool:
        """True when a limit at `price` can take depth left at `reach` or beyond (a buy: asks
        at or below its price; a sell: bids at or above it)."""
        return price >= reach if self.buy else price <= reach

    def _drop(self, price: Decimal) -> None:
        del self.levels[price]
        del self.prices[bisect.bisect_left(self.prices, price)]
