"""Depth: what is left to take of one PAPER quote's price levels, as orders take them.

A quote shows a volume at each level; an order takes from the opposite side best level first
and no more than a level shows. What this replica's orders took of a quote stays taken until
the next quote of the contract replaces it (a fresh book: the simulated market refills).
The levels are copied only when an order first trades on the quote, so a tick that fills
nothing costs nothing here.
"""

from __future__ import annotations

from decimal import Decimal

from backend.services.vnpy.paper_market import Level, Quote


class Depth:
    """The levels of `quote` still available (not thread-safe: the gateway's lock guards it)."""

    __slots__ = ("_asks", "_bids", "quote")

    def __init__(self, quote: Quote) -> None:
        self.quote = quote
        self._asks: list[list[Decimal]] | None = None
        self._bids: list[list[Decimal]] | None = None

    def take(self, buy: bool, wanted: Decimal, limit: Decimal | None) -> list[Level]:
        """Take up to `wanted` from the asks (a buy) or the bids (a sell), best level first.

        With a `limit`, only levels at or better than it (a buy: price <= limit; a sell:
        price >= limit). Returns the (price, volume) taken at each level, in the order taken.
        """
        taken: list[Level] = []
        for level in self._levels(buy):
            if wanted <= 0:
                break
            price, left = level
            if limit is not None and (price > limit if buy else price < limit):
                break
            if left <= 0:
                continue
            volume = left if left < wanted else wanted
            level[1] = left - volume
            wanted -= volume
            taken.append((price, volume))
        return taken

    def available(self, buy: bool, limit: Decimal | None) -> Decimal:
        """What is left to take on the asks (a buy) or bids (a sell), within `limit`."""
        total = Decimal(0)
        for price, left in self._levels(buy):
            if limit is not None and (price > limit if buy else price < limit):
                break
            total += left
        return total

    def reach(self, buy: bool) -> Decimal | None:
        """The best price left to take on the asks (a buy) or bids (a sell), None when all is
        taken. Orders take best first, so a limit can still trade iff its price reaches it."""
        for price, left in self._levels(buy):
            if left > 0:
                return price
        return None

    def _levels(self, buy: bool) -> list[list[Decimal]]:
        quote = self.quote
        if buy:
            if self._asks is None:
                self._asks = _copy(quote.ask, quote.ask_volume, quote.ask_depth)
            return self._asks
        if self._bids is None:
            self._bids = _copy(quote.bid, quote.bid_volume, quote.bid_depth)
        return self._bids


def _copy(price: Decimal, volume: Decimal, deeper: tuple[Level, ...]) -> list[list[Decimal]]:
    levels = [[price, volume]]
    levels.extend([level_price, level_volume] for level_price, level_volume in deeper)
    return [level for level in levels if level[0] > 0]
